// JSON Web Tokens for token authentication of web services: the workspace server signs them with an ECDSA
// P-256 key (ES256, RFC 7518 §3.4) under a key id; front ends verify them offline with the public keys.
//
// Verification pins the algorithm: a token is accepted only with "alg": "ES256" in its header, a known "kid",
// a signature that verifies with that key, the expected issuer and audience, and "exp"/"nbf" within a small
// clock skew. Whatever else the header names ("none", HS256, "jwk", "x5u", "crit") is refused; the key never
// comes from the token.
#ifndef AMLCORE_COMMON_JWT_H_
#define AMLCORE_COMMON_JWT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::jwt {

inline constexpr char kAlgorithm[] = "ES256";
// How far a verifier's clock may be from the signer's, for "exp" and "nbf".
inline constexpr int64_t kClockSkewSeconds = 30;

struct Claims {
  std::string issuer;    // iss
  std::string audience;  // aud
  std::string subject;   // sub
  std::string id;        // jti
  int64_t issued_at = 0;   // iat, seconds since the epoch
  int64_t not_before = 0;  // nbf
  int64_t expires_at = 0;  // exp
};

struct SigningKey {
  std::string kid;          // derived from the public key
  std::string private_pem;  // PKCS #8
  std::string public_pem;   // SubjectPublicKeyInfo
};

// A new P-256 key pair; its kid is the first 16 hex digits of the SHA-256 of the public key's DER form.
absl::StatusOr<SigningKey> GenerateSigningKey();

// The compact serialisation header.payload.signature, signed with `key`.
absl::StatusOr<std::string> Sign(const SigningKey& key, const Claims& claims);

// Verifies tokens against a set of public keys, by kid, for one issuer.
class Verifier {
 public:
  Verifier() = default;
  // `public_keys`: kid → SubjectPublicKeyInfo PEM of a P-256 key. A key that does not parse, or is not P-256,
  // is an error.
  static absl::StatusOr<Verifier> Create(std::string issuer, const std::map<std::string, std::string>& public_keys);

  // The claims of `token` when it is valid for `audience` at `now` (seconds since the epoch); otherwise
  // UNAUTHENTICATED with a message that says what is wrong ("the token expired at ...").
  absl::StatusOr<Claims> Verify(absl::string_view token, absl::string_view audience, int64_t now) const;

  bool empty() const { return keys_.empty(); }

 private:
  struct PublicKey;
  std::string issuer_;
  std::map<std::string, std::shared_ptr<const PublicKey>> keys_;
};

}  // namespace amlcore::jwt

#endif  // AMLCORE_COMMON_JWT_H_
