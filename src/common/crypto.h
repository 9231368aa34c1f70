// Randomness, hashing and key material checks (OpenSSL).
#ifndef AMLCORE_COMMON_CRYPTO_H_
#define AMLCORE_COMMON_CRYPTO_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace amlcore {

std::string RandomBytes(size_t n);
std::string RandomHex(size_t bytes);
// 32 random bytes, base64url without padding: API keys and admin tokens.
std::string RandomToken();
std::string Uuid4();
// A version-4 UUID from a fast per-thread generator seeded once from the system: for request ids, which need
// to be unique, not secret (Uuid4 asks OpenSSL, and the system, for every one).
std::string RequestId();
std::string Sha256Hex(absl::string_view data);
std::string Base64UrlEncode(absl::string_view data);
std::string Base64Encode(absl::string_view data);
// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Which part of a certificate and key pair is wrong (kNone when both are right).
enum class TlsPart { kNone, kCertificate, kKey };

// Checks that `certificate_pem` holds an X.509 certificate that is valid now (not expired, not yet to come),
// `private_key_pem` an unencrypted private key, and that the key belongs to the certificate. Messages say what
// is wrong; `wrong`, when given, says which part.
absl::Status CheckCertificateAndKey(absl::string_view certificate_pem, absl::string_view private_key_pem,
                                    TlsPart* wrong = nullptr);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_CRYPTO_H_
