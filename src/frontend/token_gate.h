// The front end's check of service tokens: verifies them offline with the public keys the workspace server
// publishes in its route table (see jwt::Verifier), so tokens keep working while the server is down.
//
// A token that verified is remembered, by its exact text, until it expires or the keys change: a client
// sends the same token for up to an hour, and a lookup costs far less than an ECDSA verification.
#ifndef AMLCORE_FRONTEND_TOKEN_GATE_H_
#define AMLCORE_FRONTEND_TOKEN_GATE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/jwt.h"
#include "domain/workload.h"

namespace amlcore::frontend {

class TokenGate {
 public:
  // Takes the issuer and keys of a route table. Keys past their notAfter at `now` are left out (their tokens
  // have all expired by then). A key that does not parse is left out too; the status says which.
  absl::Status Set(const domain::TokenValidation& validation, int64_t now);

  // OK when `token` is valid for `audience` at `now` (seconds since the epoch); otherwise UNAUTHENTICATED with
  // what is wrong.
  absl::Status Check(absl::string_view token, absl::string_view audience, int64_t now);

 private:
  struct Accepted {
    std::string audience;
    int64_t expires_at = 0;
  };
  static constexpr size_t kMaxRemembered = 4096;

  std::mutex mu_;
  std::shared_ptr<const jwt::Verifier> verifier_;
  absl::flat_hash_map<std::string, Accepted> accepted_;
};

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_TOKEN_GATE_H_
