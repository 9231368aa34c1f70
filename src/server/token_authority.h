// The workspace server's token authority: issues the tokens of services with token authentication (ES256 JWTs,
// audience = the service) and keeps the keys that sign them.
//
// The newest key signs; keys rotate every `rotation`, and a retired key stays published to routers until the
// last token it signed has expired, so rotation never invalidates a token early. An operator can also rotate
// at once and revoke the previous keys (their tokens stop working as soon as the routers have the new table).
#ifndef AMLCORE_SERVER_TOKEN_AUTHORITY_H_
#define AMLCORE_SERVER_TOKEN_AUTHORITY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/workload.h"
#include "server/store.h"

namespace amlcore::server {

struct TokenAuthorityOptions {
  std::chrono::seconds lifetime{3600};       // of a token; it should be refreshed after half of it
  std::chrono::seconds rotation{24 * 3600};  // of the signing key
  std::function<int64_t()> now;              // seconds since the epoch; the system clock when empty
};

struct IssuedToken {
  std::string access_token;
  std::string token_type = "Bearer";
  int64_t refresh_after = 0;  // seconds since the epoch
  int64_t expiry_on = 0;
};

class TokenAuthority {
 public:
  TokenAuthority(Store* store, TokenAuthorityOptions options);

  // Loads the issuer and the keys, making them the first time.
  absl::Status Initialize();

  // A token for `audience` (see Audience), naming `subject` (the workspace that asked).
  absl::StatusOr<IssuedToken> Issue(const std::string& audience, const std::string& subject);

  // The issuer and the keys routers accept now.
  domain::TokenValidation Published();

  // Rotates when the signing key is older than the rotation period and drops retired keys whose tokens have
  // all expired. True when the published keys changed.
  absl::StatusOr<bool> Maintain();
  // Rotates now; with `revoke_previous`, the previous keys stop being published at once.
  absl::Status Rotate(bool revoke_previous);

  // The audience of a service's tokens: its cluster and name, so that a token for one service is refused by
  // every other, on this cluster or another.
  static std::string Audience(const std::string& cluster_resource_id, const std::string& service);

 private:
  int64_t Now() const;
  absl::Status RotateLocked(bool revoke_previous);
  absl::Status LoadLocked();

  Store* store_;
  TokenAuthorityOptions options_;
  std::mutex mu_;
  std::string issuer_;
  std::vector<SigningKeyRecord> keys_;  // oldest first; the last unretired one signs
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_TOKEN_AUTHORITY_H_
