#include "frontend/token_gate.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace amlcore::frontend {

absl::Status TokenGate::Set(const domain::TokenValidation& validation, int64_t now) {
  std::map<std::string, std::string> keys;
  std::vector<std::string> bad;
  for (const auto& key : validation.keys) {
    if (key.not_after != 0 && key.not_after < now) continue;
    // Each key on its own, so that one bad key does not take the others with it.
    if (!jwt::Verifier::Create(validation.issuer, {{key.kid, key.public_key_pem}}).ok()) {
      bad.push_back(key.kid);
      continue;
    }
    keys[key.kid] = key.public_key_pem;
  }
  auto verifier = jwt::Verifier::Create(validation.issuer, keys);
  std::lock_guard lock(mu_);
  verifier_ = verifier.ok() ? std::make_shared<const jwt::Verifier>(std::move(*verifier)) : nullptr;
  accepted_.clear();
  if (!bad.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token keys that do not parse: ", absl::StrJoin(bad, ", ")));
  }
  return verifier.ok() ? absl::OkStatus() : verifier.status();
}

absl::Status TokenGate::Check(absl::string_view token, absl::string_view audience, int64_t now) {
  std::shared_ptr<const jwt::Verifier> verifier;
  {
    std::lock_guard lock(mu_);
    auto it = accepted_.find(token);
    if (it != accepted_.end()) {
      if (it->second.audience == audience && now <= it->second.expires_at + jwt::kClockSkewSeconds) {
        return absl::OkStatus();
      }
      // Expired, or meant for another service: the full check below says which.
    }
    verifier = verifier_;
  }
  if (!verifier || verifier->empty()) {
    return absl::UnauthenticatedError("this front end has no token keys from the workspace server yet");
  }
  auto claims = verifier->Verify(token, audience, now);
  if (!claims.ok()) return claims.status();
  std::lock_guard lock(mu_);
  // Keys may have changed while this token verified; remember it only against the keys it verified with.
  if (verifier_ != verifier) return absl::OkStatus();
  if (accepted_.size() >= kMaxRemembered) accepted_.clear();
  accepted_[std::string(token)] = Accepted{std::string(audience), claims->expires_at};
  return absl::OkStatus();
}

}  // namespace amlcore::frontend
