// The token authority's key timeline (issue, rotate, retire, revoke, drop) and the front end's token gate that
// verifies with what the authority publishes, on a fake clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/jwt.h"
#include "frontend/token_gate.h"
#include "server/database.h"
#include "server/store.h"
#include "server/token_authority.h"
#include "test_support.h"

namespace amlcore {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int64_t kStart = 1'900'000'000;
constexpr char kAudience[] = "/subscriptions/s/resourceGroups/rg/providers/x/managedClusters/c/services/a";

class TokenAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = server::Database::Open(absl::StrCat(home_.path(), "/amlcore.db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store_ = std::make_unique<server::Store>(db_.get());
    ASSERT_TRUE(store_->Initialize().ok());
    authority_ = MakeAuthority();
    ASSERT_TRUE(authority_->Initialize().ok());
  }

  std::unique_ptr<server::TokenAuthority> MakeAuthority() {
    return std::make_unique<server::TokenAuthority>(
        store_.get(), server::TokenAuthorityOptions{.lifetime = std::chrono::seconds(3600),
                                                    .rotation = std::chrono::hours(24),
                                                    .now = [this] { return now_; }});
  }

  // What a front end does with a token: verify it against what the authority publishes now.
  absl::Status Check(const std::string& token, absl::string_view audience = kAudience) {
    frontend::TokenGate gate;
    EXPECT_TRUE(gate.Set(authority_->Published(), now_).ok());
    return gate.Check(token, audience, now_);
  }

  std::string Issue() {
    auto issued = authority_->Issue(kAudience, "sub/rg/ws");
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? issued->access_token : "";
  }

  testing::TempHome home_;
  std::unique_ptr<server::Database> db_;
  std::unique_ptr<server::Store> store_;
  std::unique_ptr<server::TokenAuthority> authority_;
  int64_t now_ = kStart;
};

TEST_F(TokenAuthorityTest, TokensLiveAnHourAndRefreshAtHalfLife) {
  auto issued = authority_->Issue(kAudience, "sub/rg/ws");
  ASSERT_TRUE(issued.ok());
  EXPECT_EQ(issued->token_type, "Bearer");
  EXPECT_EQ(issued->refresh_after, kStart + 1800);
  EXPECT_EQ(issued->expiry_on, kStart + 3600);
  EXPECT_TRUE(Check(issued->access_token).ok());
  now_ = kStart + 3600 + jwt::kClockSkewSeconds + 1;
  EXPECT_THAT(Check(issued->access_token).message(), HasSubstr("expired"));
}

TEST_F(TokenAuthorityTest, TheIssuerAndKeysSurviveARestart) {
  std::string token = Issue();
  auto again = MakeAuthority();
  ASSERT_TRUE(again->Initialize().ok());
  EXPECT_EQ(again->Published().issuer, authority_->Published().issuer);
  EXPECT_THAT(again->Published().keys, SizeIs(1));
  authority_ = std::move(again);
  EXPECT_TRUE(Check(token).ok());
}

TEST_F(TokenAuthorityTest, RotationKeepsTheOldKeyUntilItsLastTokenExpires) {
  std::string before = Issue();
  now_ += 24 * 3600;  // the rotation period
  auto changed = authority_->Maintain();
  ASSERT_TRUE(changed.ok() && *changed);
  auto published = authority_->Published();
  ASSERT_THAT(published.keys, SizeIs(2));
  EXPECT_EQ(published.keys[0].not_after, now_ + 3600 + jwt::kClockSkewSeconds);
  EXPECT_EQ(published.keys[1].not_after, 0);
  std::string after = Issue();
  EXPECT_NE(after.substr(0, after.find('.')), before.substr(0, before.find('.')));  // another kid
  EXPECT_TRUE(Check(after).ok());

  // Nothing changes until the retired key's last token has expired; then it goes.
  now_ += 1800;
  ASSERT_TRUE(authority_->Maintain().ok() && !*authority_->Maintain());
  now_ += 1800 + jwt::kClockSkewSeconds;
  auto dropped = authority_->Maintain();
  ASSERT_TRUE(dropped.ok() && *dropped);
  EXPECT_THAT(authority_->Published().keys, SizeIs(1));
  EXPECT_THAT(Check(before).message(), HasSubstr("key id"));
  EXPECT_TRUE(Check(after).ok());
}

TEST_F(TokenAuthorityTest, RevokingWithdrawsThePreviousKeysAtOnce) {
  std::string before = Issue();
  ASSERT_TRUE(authority_->Rotate(/*revoke_previous=*/true).ok());
  EXPECT_THAT(authority_->Published().keys, SizeIs(1));
  EXPECT_THAT(Check(before).message(), HasSubstr("key id"));
  EXPECT_TRUE(Check(Issue()).ok());
}

TEST_F(TokenAuthorityTest, AudienceNamesTheClusterAndTheService) {
  EXPECT_EQ(server::TokenAuthority::Audience("/x/managedClusters/c", "svc"), "/x/managedClusters/c/services/svc");
  EXPECT_THAT(Check(Issue(), "/x/managedClusters/c/services/other").message(), HasSubstr("is for"));
}

// The gate remembers tokens that verified; what it remembers never outlives the token or the keys.
TEST_F(TokenAuthorityTest, TheGateForgetsTokensWhenTheyExpireOrTheKeysChange) {
  frontend::TokenGate gate;
  ASSERT_TRUE(gate.Set(authority_->Published(), now_).ok());
  std::string token = Issue();
  ASSERT_TRUE(gate.Check(token, kAudience, now_).ok());
  ASSERT_TRUE(gate.Check(token, kAudience, now_).ok());  // remembered
  // Remembered for one service only.
  EXPECT_THAT(gate.Check(token, "/elsewhere/services/b", now_).message(), HasSubstr("is for"));
  EXPECT_THAT(gate.Check(token, kAudience, now_ + 3600 + jwt::kClockSkewSeconds + 1).message(), HasSubstr("expired"));
  ASSERT_TRUE(authority_->Rotate(/*revoke_previous=*/true).ok());
  ASSERT_TRUE(gate.Set(authority_->Published(), now_).ok());
  EXPECT_THAT(gate.Check(token, kAudience, now_).message(), HasSubstr("key id"));
}

TEST_F(TokenAuthorityTest, TheGateLeavesOutKeysPastTheirTimeAndKeysThatDoNotParse) {
  std::string token = Issue();
  domain::TokenValidation published = authority_->Published();
  published.keys[0].not_after = now_ - 1;
  frontend::TokenGate gate;
  ASSERT_TRUE(gate.Set(published, now_).ok());
  EXPECT_FALSE(gate.Check(token, kAudience, now_).ok());

  published = authority_->Published();
  published.keys.push_back({"bad", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n", 0});
  auto set = gate.Set(published, now_);
  EXPECT_THAT(set.message(), HasSubstr("bad"));
  EXPECT_TRUE(gate.Check(token, kAudience, now_).ok());  // the good key still verifies
}

TEST(TokenGateTest, WithoutKeysEveryTokenIsRefused) {
  frontend::TokenGate gate;
  EXPECT_THAT(gate.Check("a.b.c", kAudience, kStart).message(), HasSubstr("no token keys"));
}

}  // namespace
}  // namespace amlcore
