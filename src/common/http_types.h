// Transport-neutral HTTP request and response values shared by the server, front end and client.
// Nothing here includes Beast or Asio, so any layer may use these types.
#ifndef AMLCORE_COMMON_HTTP_TYPES_H_
#define AMLCORE_COMMON_HTTP_TYPES_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace amlcore::http {

// An ordered list of header fields with case-insensitive lookup.
class Headers {
 public:
  std::optional<absl::string_view> Get(absl::string_view name) const;
  // Replaces every field called `name` with one field.
  void Set(absl::string_view name, absl::string_view value);
  void Add(absl::string_view name, absl::string_view value);
  // Drops every field called `name`.
  void Remove(absl::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path plus query, as sent
  Headers headers;
  std::string body;
  std::string remote_address;
  // Arrived over TLS (HTTPS): lets a handler refuse what must not travel in the clear.
  bool tls = false;

  absl::string_view path() const;
  absl::string_view query() const;
  // The first value of query parameter `name`, URL-decoded.
  std::optional<std::string> QueryParam(absl::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body);
};

// The credential of an "Authorization: Bearer <credential>" header. The scheme is matched case-insensitively
// ("bearer", "BEARER"), as HTTP auth schemes are; nullopt when there is no such header or another scheme.
std::optional<absl::string_view> BearerCredential(const Headers& headers);

std::string UrlDecode(absl::string_view in);
std::string UrlEncode(absl::string_view in);
// The standard reason phrase of an HTTP status code ("Not Found").
absl::string_view ReasonPhrase(int status);

// Splits "http://host:port/base" into its parts. Only http and https are accepted.
struct Url {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  std::string path;  // without trailing slash; "" for the root
};
std::optional<Url> ParseUrl(absl::string_view url);

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_TYPES_H_
