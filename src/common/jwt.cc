#include "common/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/json.h"

namespace amlcore::jwt {
namespace {

namespace bj = json::bj;
using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

constexpr size_t kCoordinateBytes = 32;  // P-256
constexpr size_t kMaxTokenBytes = 8192;

absl::Status Unauthenticated(absl::string_view message) { return absl::UnauthenticatedError(message); }

// Strict base64url: the URL-safe alphabet, no padding, no whitespace.
std::optional<std::string> DecodeBase64Url(absl::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  std::string out;
  if (!absl::WebSafeBase64Unescape(text, &out)) return std::nullopt;
  return out;
}

std::string Time(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}

std::string PemOf(EVP_PKEY* key, bool private_key) {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  int ok = private_key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return "";
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

bool IsP256(EVP_PKEY* key) {
  char group[64] = {0};
  size_t length = 0;
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
         EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &length) == 1 &&
         absl::string_view(group, length) == "prime256v1";
}

// ECDSA signatures are DER (r, s) in OpenSSL and the fixed-size r || s in JWS.
std::optional<std::string> DerToRaw(const unsigned char* der, size_t size) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(size)),
                                                            ECDSA_SIG_free);
  if (!sig) return std::nullopt;
  std::string raw(2 * kCoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kCoordinateBytes) != kCoordinateBytes ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kCoordinateBytes, kCoordinateBytes) != kCoordinateBytes) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> RawToDer(absl::string_view raw) {
  if (raw.size() != 2 * kCoordinateBytes) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(bytes, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + kCoordinateBytes, kCoordinateBytes, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int size = i2d_ECDSA_SIG(sig.get(), &der);
  if (size <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

}  // namespace

struct Verifier::PublicKey {
  Pkey key{nullptr, EVP_PKEY_free};
};

absl::StatusOr<SigningKey> GenerateSigningKey() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  if (!key) return absl::InternalError("Could not generate a P-256 signing key.");
  SigningKey out;
  out.private_pem = PemOf(key.get(), true);
  out.public_pem = PemOf(key.get(), false);
  unsigned char* der = nullptr;
  int size = i2d_PUBKEY(key.get(), &der);
  if (out.private_pem.empty() || out.public_pem.empty() || size <= 0) {
    return absl::InternalError("Could not encode the signing key.");
  }
  out.kid = Sha256Hex(absl::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(size))).substr(0, 16);
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::string> Sign(const SigningKey& key, const Claims& claims) {
  Bio bio(BIO_new_mem_buf(key.private_pem.data(), static_cast<int>(key.private_pem.size())), BIO_free);
  Pkey pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!pkey || !IsP256(pkey.get())) return absl::InternalError("The signing key is not a P-256 private key.");
  bj::object header{{"alg", kAlgorithm}, {"typ", "JWT"}, {"kid", json::Bj(key.kid)}};
  bj::object payload{{"iss", json::Bj(claims.issuer)}, {"aud", json::Bj(claims.audience)},
                     {"iat", claims.issued_at},        {"nbf", claims.not_before},
                     {"exp", claims.expires_at}};
  if (!claims.subject.empty()) payload["sub"] = json::Bj(claims.subject);
  if (!claims.id.empty()) payload["jti"] = json::Bj(claims.id);
  std::string input =
      absl::StrCat(Base64UrlEncode(json::Serialize(header)), ".", Base64UrlEncode(json::Serialize(payload)));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError("Could not sign the token.");
  }
  std::string der(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return absl::InternalError("Could not sign the token.");
  }
  auto raw = DerToRaw(reinterpret_cast<const unsigned char*>(der.data()), size);
  if (!raw) return absl::InternalError("Could not encode the token's signature.");
  return absl::StrCat(input, ".", Base64UrlEncode(*raw));
}

absl::StatusOr<Verifier> Verifier::Create(std::string issuer, const std::map<std::string, std::string>& public_keys) {
  Verifier v;
  v.issuer_ = std::move(issuer);
  for (const auto& [kid, pem] : public_keys) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    auto key = std::make_shared<PublicKey>();
    key->key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key->key || !IsP256(key->key.get())) {
      return absl::InvalidArgumentError(absl::StrCat("Signing key ", kid, " is not a P-256 public key in PEM."));
    }
    v.keys_[kid] = std::move(key);
  }
  return v;
}

absl::StatusOr<Claims> Verifier::Verify(absl::string_view token, absl::string_view audience, int64_t now) const {
  if (token.size() > kMaxTokenBytes) return Unauthenticated("the token is too long");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Unauthenticated("the credential is not a token (expected header.payload.signature in base64url)");
  }
  auto header_text = DecodeBase64Url(parts[0]);
  auto payload_text = DecodeBase64Url(parts[1]);
  auto signature = DecodeBase64Url(parts[2]);
  if (!header_text || !payload_text || !signature) return Unauthenticated("the token is not valid base64url");
  auto header = json::ParseObject(*header_text, "token header");
  if (!header.ok()) return Unauthenticated("the token's header is not a JSON object");
  // The algorithm is pinned: what the header says is checked, never followed.
  const bj::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != kAlgorithm) {
    return Unauthenticated(absl::StrCat("the token's algorithm is ",
                                        alg && alg->is_string() ? absl::StrCat("'", json::Sv(alg->as_string()), "'")
                                                                : std::string("missing"),
                                        "; only ", kAlgorithm, " is accepted"));
  }
  if (header->contains("crit")) return Unauthenticated("the token names critical header parameters");
  std::string kid = json::GetString(*header, "kid");
  auto key = keys_.find(kid);
  if (key == keys_.end()) {
    return Unauthenticated(absl::StrCat("the token's key id '", kid,
                                        "' is not a current signing key of the workspace server (keys rotate; get a "
                                        "new token)"));
  }
  auto der = RawToDer(*signature);
  if (!der) return Unauthenticated("the token's signature is not an ES256 signature");
  absl::string_view input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->second->key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()), der->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Unauthenticated("the token's signature does not verify");
  }
  auto payload = json::ParseObject(*payload_text, "token payload");
  if (!payload.ok()) return Unauthenticated("the token's payload is not a JSON object");
  auto number = [&](const char* name) -> std::optional<int64_t> {
    const bj::value* v = payload->if_contains(name);
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() < static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<int64_t>(v->as_double());
    return std::nullopt;
  };
  Claims claims;
  claims.issuer = json::GetString(*payload, "iss");
  claims.audience = json::GetString(*payload, "aud");
  claims.subject = json::GetString(*payload, "sub");
  claims.id = json::GetString(*payload, "jti");
  auto exp = number("exp");
  if (!exp) return Unauthenticated("the token has no expiry (exp)");
  claims.expires_at = *exp;
  claims.not_before = number("nbf").value_or(0);
  claims.issued_at = number("iat").value_or(0);
  if (now > claims.expires_at + kClockSkewSeconds) {
    return Unauthenticated(absl::StrCat("the token expired at ", Time(claims.expires_at), "; get a new one"));
  }
  if (claims.not_before > now + kClockSkewSeconds) {
    return Unauthenticated(absl::StrCat("the token is not valid before ", Time(claims.not_before)));
  }
  if (claims.issuer != issuer_) {
    return Unauthenticated(absl::StrCat("the token was issued by '", claims.issuer, "', not by this workspace server"));
  }
  if (claims.audience != audience) {
    return Unauthenticated(absl::StrCat("the token is for '", claims.audience, "', not for '", audience, "'"));
  }
  return claims;
}

}  // namespace amlcore::jwt
