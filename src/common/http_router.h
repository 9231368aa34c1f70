// A declarative table of HTTP routes: each has a method, a path pattern ("computes/{name}/listKeys": literals
// compare without case, {name} captures a segment), the name of the policy that admits requests to it, and a
// handler. Requests that match no pattern get 404, a pattern but not its method 405 with Allow, and a refusing
// policy its response; the handler sees only what its policy admitted.
//
//   Router router;
//   router.AddPolicy("admin", [&](const Request& r) { return AdminAllowed(r) ? std::nullopt : Refusal(); });
//   router.Add("GET", "workspaces/{ws}", "admin", [&](const Request&, const PathParams& p, Responder reply) {...});
#ifndef AMLCORE_COMMON_HTTP_ROUTER_H_
#define AMLCORE_COMMON_HTTP_ROUTER_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/http_server.h"

namespace amlcore::http {

// Captured segments of a path, URL-decoded.
class PathParams {
 public:
  const std::string& operator[](absl::string_view name) const;
  void Set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

class Router {
 public:
  using RouteHandler = std::function<void(const Request&, const PathParams&, Responder)>;
  // Returns a response to refuse the request, nothing to admit it. Looks only at the request's head.
  using Policy = std::function<std::optional<Response>(const Request&)>;

  void AddPolicy(std::string name, Policy policy);
  void Add(std::string method, absl::string_view pattern, std::string policy, RouteHandler handler);
  // The policy for requests that match no route, applied before they get their 404 or 405.
  void SetUnmatchedPolicy(std::string policy) { unmatched_policy_ = std::move(policy); }
  // How requests that match no route are answered (404 and 405 bodies).
  void SetErrorResponse(std::function<Response(int status, std::string code, std::string message)> make) {
    make_error_ = std::move(make);
  }

  // Sees every reply, refusals by Admit included, with the request's method, the pattern of its route (""
  // when none matched) and the time from dispatch to reply: per-route metrics.
  using Observer = std::function<void(const std::string& method, const std::string& pattern, int status,
                                      std::chrono::nanoseconds elapsed)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  void Dispatch(const Request& request, Responder reply) const;
  // The policy's answer for a request whose body has not been read yet (nothing: admitted, or no such route).
  std::optional<Response> Admit(const Request& head) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    std::string policy;
    RouteHandler handler;
  };
  struct Found {
    const Route* route = nullptr;  // with the method
    std::vector<std::string> allowed;  // methods of routes whose pattern matches
    PathParams params;
  };
  Found Find(const Request& request) const;
  std::optional<Response> AdmitFound(const Found& found, const Request& head) const;

  std::vector<Route> routes_;
  std::map<std::string, Policy> policies_;
  std::string unmatched_policy_;
  std::function<Response(int, std::string, std::string)> make_error_;
  Observer observer_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_ROUTER_H_
