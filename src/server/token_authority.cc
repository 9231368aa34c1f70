#include "server/token_authority.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/jwt.h"

namespace amlcore::server {
namespace {
constexpr char kIssuerSetting[] = "token_issuer";
}  // namespace

TokenAuthority::TokenAuthority(Store* store, TokenAuthorityOptions options)
    : store_(store), options_(std::move(options)) {}

int64_t TokenAuthority::Now() const { return options_.now ? options_.now() : absl::ToUnixSeconds(absl::Now()); }

std::string TokenAuthority::Audience(const std::string& cluster_resource_id, const std::string& service) {
  return absl::StrCat(cluster_resource_id, "/services/", service);
}

absl::Status TokenAuthority::LoadLocked() {
  return store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto issuer = store_->GetServerSetting(tx, kIssuerSetting);
    if (!issuer.ok()) return issuer.status();
    if (issuer->has_value()) {
      issuer_ = **issuer;
    } else {
      // Names this server (this home) for as long as its database lives.
      issuer_ = absl::StrCat("amlcored:", Uuid4());
      if (auto s = store_->PutServerSetting(tx, kIssuerSetting, issuer_); !s.ok()) return s;
    }
    auto keys = store_->SigningKeys(tx);
    if (!keys.ok()) return keys.status();
    keys_ = std::move(*keys);
    return absl::OkStatus();
  });
}

absl::Status TokenAuthority::Initialize() {
  std::lock_guard lock(mu_);
  if (auto s = LoadLocked(); !s.ok()) return s;
  bool signing = false;
  for (const auto& k : keys_) signing |= k.retired == 0;
  return signing ? absl::OkStatus() : RotateLocked(false);
}

absl::Status TokenAuthority::RotateLocked(bool revoke_previous) {
  auto key = jwt::GenerateSigningKey();
  if (!key.ok()) return key.status();
  int64_t now = Now();
  // A token signed just before the rotation lives for one more lifetime.
  int64_t until = now + options_.lifetime.count() + jwt::kClockSkewSeconds;
  std::vector<SigningKeyRecord> next = keys_;
  for (auto& k : next) {
    if (k.retired == 0) {
      k.retired = now;
      k.published_until = until;
    }
    if (revoke_previous) k.published_until = now;
  }
  next.push_back({key->kid, key->private_pem, key->public_pem, now, 0, 0});
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    for (const auto& k : next) {
      if (auto s = store_->PutSigningKey(tx, k); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  keys_ = std::move(next);
  return absl::OkStatus();
}

absl::Status TokenAuthority::Rotate(bool revoke_previous) {
  std::lock_guard lock(mu_);
  return RotateLocked(revoke_previous);
}

absl::StatusOr<bool> TokenAuthority::Maintain() {
  std::lock_guard lock(mu_);
  int64_t now = Now();
  bool changed = false;
  // Retired keys whose tokens have all expired go.
  std::vector<std::string> expired;
  for (const auto& k : keys_) {
    if (k.retired != 0 && k.published_until <= now) expired.push_back(k.kid);
  }
  if (!expired.empty()) {
    auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
      for (const auto& kid : expired) {
        if (auto s = store_->DeleteSigningKey(tx, kid); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    std::erase_if(keys_, [&](const SigningKeyRecord& k) { return k.retired != 0 && k.published_until <= now; });
    changed = true;
  }
  const SigningKeyRecord* signing = nullptr;
  for (const auto& k : keys_) {
    if (k.retired == 0) signing = &k;
  }
  if (signing == nullptr || now - signing->created >= options_.rotation.count()) {
    if (auto s = RotateLocked(false); !s.ok()) return s;
    changed = true;
  }
  return changed;
}

absl::StatusOr<IssuedToken> TokenAuthority::Issue(const std::string& audience, const std::string& subject) {
  std::lock_guard lock(mu_);
  const SigningKeyRecord* signing = nullptr;
  for (const auto& k : keys_) {
    if (k.retired == 0) signing = &k;
  }
  if (signing == nullptr) return absl::FailedPreconditionError("The token authority has no signing key.");
  int64_t now = Now();
  int64_t lifetime = options_.lifetime.count();
  jwt::Claims claims{.issuer = issuer_,
                     .audience = audience,
                     .subject = subject,
                     .id = RandomHex(8),
                     .issued_at = now,
                     .not_before = now,
                     .expires_at = now + lifetime};
  auto token = jwt::Sign({signing->kid, signing->private_pem, signing->public_pem}, claims);
  if (!token.ok()) return token.status();
  return IssuedToken{.access_token = std::move(*token), .refresh_after = now + lifetime / 2, .expiry_on = now + lifetime};
}

domain::TokenValidation TokenAuthority::Published() {
  std::lock_guard lock(mu_);
  domain::TokenValidation out;
  out.issuer = issuer_;
  int64_t now = Now();
  for (const auto& k : keys_) {
    if (k.retired != 0 && k.published_until <= now) continue;
    out.keys.push_back({k.kid, k.public_pem, k.retired == 0 ? 0 : k.published_until});
  }
  return out;
}

}  // namespace amlcore::server
