// Tokens signed by the workspace server and verified offline by front ends (common/jwt.h), and the tokens an
// attacker would try instead.
#include "common/jwt.h"

#include <openssl/hmac.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"

namespace amlcore::jwt {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1800000000;
constexpr char kIssuer[] = "amlcore:test-issuer";
constexpr char kAudience[] = "cluster-1/service-a";

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = GenerateSigningKey();
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    auto verifier = Verifier::Create(kIssuer, {{key_.kid, key_.public_pem}});
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = *verifier;
  }
  Claims Valid() const {
    return {.issuer = kIssuer, .audience = kAudience, .subject = "ws", .id = "t1", .issued_at = kNow,
            .not_before = kNow, .expires_at = kNow + 3600};
  }
  std::string Signed(const Claims& claims) const {
    auto token = Sign(key_, claims);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }
  // The message of the refusal of `token`, or "" when it is accepted.
  std::string Refusal(const std::string& token, absl::string_view audience = kAudience, int64_t now = kNow) const {
    auto claims = verifier_.Verify(token, audience, now);
    if (claims.ok()) return "";
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
    return std::string(claims.status().message());
  }
  static std::string B64(absl::string_view text) { return absl::WebSafeBase64Escape(text); }

  SigningKey key_;
  Verifier verifier_;
};

TEST_F(JwtTest, ASignedTokenVerifiesWithItsClaims) {
  std::string token = Signed(Valid());
  auto claims = verifier_.Verify(token, kAudience, kNow + 10);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_EQ(claims->audience, kAudience);
  EXPECT_EQ(claims->subject, "ws");
  EXPECT_EQ(claims->expires_at, kNow + 3600);
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  EXPECT_EQ(header, absl::StrCat(R"({"alg":"ES256","typ":"JWT","kid":")", key_.kid, R"("})"));
  EXPECT_EQ(key_.kid.size(), 16u);
}

TEST_F(JwtTest, ExpiryAndNotBeforeAllowASmallSkewOnly) {
  std::string token = Signed(Valid());
  EXPECT_EQ(Refusal(token, kAudience, kNow + 3600 + kClockSkewSeconds), "");
  EXPECT_EQ(Refusal(token, kAudience, kNow + 3600 + kClockSkewSeconds + 1),
            "the token expired at 2027-01-15T09:00:00Z; get a new one");
  Claims later = Valid();
  later.not_before = kNow + 600;
  EXPECT_EQ(Refusal(Signed(later)), "the token is not valid before 2027-01-15T08:10:00Z");
  EXPECT_EQ(Refusal(Signed(later), kAudience, kNow + 600 - kClockSkewSeconds), "");
  Claims no_expiry = Valid();
  no_expiry.expires_at = 0;
  EXPECT_THAT(Refusal(Signed(no_expiry)), HasSubstr("expired"));
}

TEST_F(JwtTest, AnotherServiceOrIssuerIsRefused) {
  EXPECT_EQ(Refusal(Signed(Valid()), "cluster-1/service-b"),
            "the token is for 'cluster-1/service-a', not for 'cluster-1/service-b'");
  Claims other = Valid();
  other.issuer = "amlcore:another-server";
  EXPECT_EQ(Refusal(Signed(other)), "the token was issued by 'amlcore:another-server', not by this workspace server");
}

TEST_F(JwtTest, ATamperedPayloadDoesNotVerify) {
  std::vector<std::string> parts = absl::StrSplit(Signed(Valid()), '.');
  std::string payload = absl::StrCat(R"({"iss":")", kIssuer, R"(","aud":"cluster-1/service-b","exp":)",
                                     kNow + 999999, "}");
  EXPECT_EQ(Refusal(absl::StrCat(parts[0], ".", B64(payload), ".", parts[2]), "cluster-1/service-b"),
            "the token's signature does not verify");
  // One bit of the signature.
  std::string signature;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[2], &signature));
  signature[5] ^= 1;
  EXPECT_EQ(Refusal(absl::StrCat(parts[0], ".", parts[1], ".", B64(signature))),
            "the token's signature does not verify");
}

TEST_F(JwtTest, TheAlgorithmIsPinned) {
  std::vector<std::string> parts = absl::StrSplit(Signed(Valid()), '.');
  // alg none, with and without a signature.
  std::string none = B64(R"({"alg":"none","typ":"JWT"})");
  EXPECT_EQ(Refusal(absl::StrCat(none, ".", parts[1], ".")), "the token's algorithm is 'none'; only ES256 is accepted");
  EXPECT_EQ(Refusal(absl::StrCat(none, ".", parts[1], ".", parts[2])),
            "the token's algorithm is 'none'; only ES256 is accepted");
  // HS256 with the public key as the HMAC secret (the algorithm-confusion attack).
  std::string hs_input = absl::StrCat(B64(absl::StrCat(R"({"alg":"HS256","typ":"JWT","kid":")", key_.kid, R"("})")),
                                      ".", parts[1]);
  unsigned char mac[32];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key_.public_pem.data(), static_cast<int>(key_.public_pem.size()),
       reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac, &mac_size);
  std::string hs256 = absl::StrCat(hs_input, ".", B64(absl::string_view(reinterpret_cast<char*>(mac), mac_size)));
  EXPECT_EQ(Refusal(hs256), "the token's algorithm is 'HS256'; only ES256 is accepted");
  EXPECT_EQ(Refusal(absl::StrCat(B64(R"({"typ":"JWT"})"), ".", parts[1], ".", parts[2])),
            "the token's algorithm is missing; only ES256 is accepted");
  EXPECT_EQ(Refusal(absl::StrCat(B64(absl::StrCat(R"({"alg":"ES256","kid":")", key_.kid, R"(","crit":["x"]})")),
                                 ".", parts[1], ".", parts[2])),
            "the token names critical header parameters");
}

TEST_F(JwtTest, UnknownAndRotatedKeysAreRefused) {
  auto other = GenerateSigningKey();
  ASSERT_TRUE(other.ok());
  auto signed_by_other = Sign(*other, Valid());
  ASSERT_TRUE(signed_by_other.ok());
  EXPECT_EQ(Refusal(*signed_by_other),
            absl::StrCat("the token's key id '", other->kid,
                         "' is not a current signing key of the workspace server (keys rotate; get a new token)"));
  // A token signed with another key under this key's id.
  SigningKey impostor = *other;
  impostor.kid = key_.kid;
  EXPECT_EQ(Refusal(*Sign(impostor, Valid())), "the token's signature does not verify");
  // After rotation the verifier knows the new key and, until its tokens expire, the old one; then the old
  // key's tokens are refused however long they claim to live.
  std::string old_token = Signed(Valid());
  auto both = Verifier::Create(kIssuer, {{key_.kid, key_.public_pem}, {other->kid, other->public_pem}});
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->Verify(old_token, kAudience, kNow).ok());
  EXPECT_TRUE(both->Verify(*signed_by_other, kAudience, kNow).ok());
  auto rotated = Verifier::Create(kIssuer, {{other->kid, other->public_pem}});
  ASSERT_TRUE(rotated.ok());
  EXPECT_THAT(std::string(rotated->Verify(old_token, kAudience, kNow).status().message()),
              HasSubstr("is not a current signing key"));
}

TEST_F(JwtTest, MalformedCredentialsAreRefused) {
  EXPECT_EQ(Refusal("not-a-token"), "the credential is not a token (expected header.payload.signature in base64url)");
  EXPECT_EQ(Refusal("a.b.c.d"), "the credential is not a token (expected header.payload.signature in base64url)");
  EXPECT_EQ(Refusal("a+b.c.d"), "the token is not valid base64url");
  EXPECT_EQ(Refusal(absl::StrCat(B64("[1]"), ".", B64("{}"), ".", B64("x"))), "the token's header is not a JSON object");
  std::vector<std::string> parts = absl::StrSplit(Signed(Valid()), '.');
  EXPECT_EQ(Refusal(absl::StrCat(parts[0], ".", parts[1], ".", B64("short"))),
            "the token's signature is not an ES256 signature");
  EXPECT_EQ(Refusal(std::string(9000, 'a')), "the token is too long");
}

TEST(JwtKeysTest, AVerifierTakesOnlyP256PublicKeys) {
  auto key = GenerateSigningKey();
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(Verifier::Create(kIssuer, {{"k", "not a key"}}).ok());
  EXPECT_FALSE(Verifier::Create(kIssuer, {{"k", key->private_pem}}).ok());
  EXPECT_NE(GenerateSigningKey()->kid, key->kid);
}

}  // namespace
}  // namespace amlcore::jwt
