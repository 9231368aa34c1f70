// What verifying a service token costs the front end: the first use of a token (an ES256 signature
// verification, base64url and JSON decoding and the claim checks) and a later use (the remembered token),
// per call on one core.
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/jwt.h"
#include "domain/workload.h"
#include "frontend/token_gate.h"

int main() {
  using Clock = std::chrono::steady_clock;
  namespace jwt = amlcore::jwt;
  auto key = jwt::GenerateSigningKey();
  if (!key.ok()) return 1;
  int64_t now = std::time(nullptr);
  const char* audience = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
                         "managedClusters/c/services/svc";
  auto token = jwt::Sign(*key, {.issuer = "amlcored:bench", .audience = audience, .subject = "s/rg/ws",
                                .id = "1", .issued_at = now, .not_before = now, .expires_at = now + 3600});
  auto verifier = jwt::Verifier::Create("amlcored:bench", {{key->kid, key->public_pem}});
  if (!token.ok() || !verifier.ok()) return 1;

  constexpr int kCold = 2000;
  auto start = Clock::now();
  for (int i = 0; i < kCold; ++i) {
    if (!verifier->Verify(*token, audience, now).ok()) return 1;
  }
  double cold_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kCold;

  amlcore::frontend::TokenGate gate;
  amlcore::domain::TokenValidation published{"amlcored:bench", {{key->kid, key->public_pem, 0}}};
  if (!gate.Set(published, now).ok() || !gate.Check(*token, audience, now).ok()) return 1;
  constexpr int kWarm = 1'000'000;
  start = Clock::now();
  for (int i = 0; i < kWarm; ++i) {
    if (!gate.Check(*token, audience, now).ok()) return 1;
  }
  double warm_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kWarm;
  std::printf("Token verification on one core: first use %.1f µs (ES256 signature and claims), later uses %.3f µs "
              "(remembered token)\n",
              cold_us, warm_us);
  return 0;
}
