#include "common/http_router.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace amlcore::http {
namespace {
bool IsCapture(absl::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

const std::string& PathParams::operator[](absl::string_view name) const {
  static const std::string kEmpty;
  auto found = values_.find(name);
  return found == values_.end() ? kEmpty : found->second;
}

void Router::AddPolicy(std::string name, Policy policy) { policies_[std::move(name)] = std::move(policy); }

void Router::Add(std::string method, absl::string_view pattern, std::string policy, RouteHandler handler) {
  std::vector<std::string> segments = absl::StrSplit(pattern, '/', absl::SkipEmpty());
  routes_.push_back(
      Route{std::move(method), std::string(pattern), std::move(segments), std::move(policy), std::move(handler)});
}

Router::Found Router::Find(const Request& request) const {
  std::vector<std::string> segments;
  for (absl::string_view part : absl::StrSplit(request.path(), '/', absl::SkipEmpty())) {
    segments.push_back(UrlDecode(part));
  }
  Found found;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    PathParams params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& p = route.segments[i];
      if (IsCapture(p)) {
        params.Set(p.substr(1, p.size() - 2), segments[i]);
      } else {
        match = absl::EqualsIgnoreCase(p, segments[i]);
      }
    }
    if (!match) continue;
    if (std::find(found.allowed.begin(), found.allowed.end(), route.method) == found.allowed.end()) {
      found.allowed.push_back(route.method);
    }
    if (found.route == nullptr && route.method == request.method) {
      found.route = &route;
      found.params = std::move(params);
    }
  }
  return found;
}

std::optional<Response> Router::Admit(const Request& head) const {
  Found found = Find(head);
  auto refused = AdmitFound(found, head);
  if (refused && observer_) {
    observer_(head.method, found.route ? found.route->pattern : std::string(), refused->status, {});
  }
  return refused;
}

std::optional<Response> Router::AdmitFound(const Found& found, const Request& head) const {
  const std::string& name = found.route != nullptr ? found.route->policy : unmatched_policy_;
  if (name.empty()) return std::nullopt;
  auto policy = policies_.find(name);
  if (policy == policies_.end()) return make_error_(500, "InternalError", absl::StrCat("No policy named ", name, "."));
  return policy->second(head);
}

void Router::Dispatch(const Request& request, Responder reply) const {
  Found found = Find(request);
  if (observer_) {
    reply = Observed(std::move(reply), [this, start = std::chrono::steady_clock::now(), method = request.method,
                                        pattern = found.route ? found.route->pattern : std::string()](Response& r) {
      observer_(method, pattern, r.status, std::chrono::steady_clock::now() - start);
    });
  }
  if (auto refused = AdmitFound(found, request)) return std::move(reply)(std::move(*refused));
  if (found.route == nullptr) {
    if (found.allowed.empty()) {
      return std::move(reply)(make_error_(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));
    }
    // In the usual order of methods, whatever the order of the table.
    static const std::vector<std::string> kOrder = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    auto rank = [&](const std::string& m) { return std::find(kOrder.begin(), kOrder.end(), m) - kOrder.begin(); };
    std::sort(found.allowed.begin(), found.allowed.end(),
              [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    std::string allowed = absl::StrJoin(found.allowed, ", ");
    Response r = make_error_(405, "MethodNotAllowed",
                             absl::StrCat(request.method, " is not allowed on ", request.path(), "; use ", allowed, "."));
    r.headers.Set("Allow", allowed);
    return std::move(reply)(std::move(r));
  }
  found.route->handler(request, found.params, std::move(reply));
}

}  // namespace amlcore::http
