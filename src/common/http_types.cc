#include "common/http_types.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace amlcore::http {

std::optional<absl::string_view> Headers::Get(absl::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (absl::EqualsIgnoreCase(k, name)) return absl::string_view(v);
  }
  return std::nullopt;
}

void Headers::Set(absl::string_view name, absl::string_view value) {
  Remove(name);
  Add(name, value);
}

void Headers::Remove(absl::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return absl::EqualsIgnoreCase(f.first, name); });
}

void Headers::Add(absl::string_view name, absl::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

std::optional<absl::string_view> BearerCredential(const Headers& headers) {
  auto header = headers.Get("Authorization");
  if (!header) return std::nullopt;
  absl::string_view value = absl::StripAsciiWhitespace(*header);
  constexpr absl::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return std::nullopt;
  }
  return absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size()));
}

absl::string_view Request::path() const {
  absl::string_view t = target;
  return t.substr(0, t.find('?'));
}

absl::string_view Request::query() const {
  absl::string_view t = target;
  size_t q = t.find('?');
  return q == absl::string_view::npos ? absl::string_view() : t.substr(q + 1);
}

std::optional<std::string> Request::QueryParam(absl::string_view name) const {
  for (absl::string_view part : absl::StrSplit(query(), '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    std::string key = UrlDecode(part.substr(0, eq));
    if (key != name) continue;
    return eq == absl::string_view::npos ? std::string() : UrlDecode(part.substr(eq + 1));
  }
  return std::nullopt;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string UrlDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(absl::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::optional<Url> ParseUrl(absl::string_view url) {
  Url out;
  if (absl::ConsumePrefix(&url, "http://")) {
    out.scheme = "http";
    out.port = 80;
  } else if (absl::ConsumePrefix(&url, "https://")) {
    out.scheme = "https";
    out.port = 443;
  } else {
    return std::nullopt;
  }
  size_t slash = url.find('/');
  absl::string_view authority = url.substr(0, slash);
  out.path = slash == absl::string_view::npos ? "" : std::string(url.substr(slash));
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  if (!authority.empty() && authority.front() == '[') {  // [::1]:port
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      uint32_t port;
      if (authority.front() != ':' || !absl::SimpleAtoi(authority.substr(1), &port) || port > 65535)
        return std::nullopt;
      out.port = static_cast<uint16_t>(port);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) {
      uint32_t port;
      if (!absl::SimpleAtoi(authority.substr(colon + 1), &port) || port > 65535) return std::nullopt;
      out.port = static_cast<uint16_t>(port);
    }
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

}  // namespace amlcore::http
