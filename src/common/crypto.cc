#include "common/crypto.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace amlcore {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // no secure randomness: nothing safe to do
  }
  return out;
}

std::string RandomHex(size_t bytes) { return absl::BytesToHexString(RandomBytes(bytes)); }

std::string Base64UrlEncode(absl::string_view data) { return absl::WebSafeBase64Escape(data); }
std::string Base64Encode(absl::string_view data) { return absl::Base64Escape(data); }

std::string RandomToken() { return Base64UrlEncode(RandomBytes(32)); }

namespace {
// Sets the version and variant bits of 16 random bytes and formats them as 8-4-4-4-12 hex digits.
std::string FormatUuid4(std::string b) {
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[(static_cast<unsigned char>(b[i]) >> 4) & 0xf]);
    out.push_back(kHex[static_cast<unsigned char>(b[i]) & 0xf]);
  }
  return out;
}
}  // namespace

std::string Uuid4() { return FormatUuid4(RandomBytes(16)); }

std::string RequestId() {
  thread_local std::mt19937_64 generator = [] {
    std::string seed = RandomBytes(16);
    std::seed_seq sequence(seed.begin(), seed.end());
    return std::mt19937_64(sequence);
  }();
  std::string bytes(16, '\0');
  for (int half = 0; half < 2; ++half) {
    uint64_t word = generator();
    std::memcpy(bytes.data() + 8 * half, &word, sizeof(word));
  }
  return FormatUuid4(std::move(bytes));
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::Status CheckCertificateAndKey(absl::string_view certificate_pem, absl::string_view private_key_pem,
                                    TlsPart* wrong) {
  auto fail = [&](TlsPart part, std::string message) {
    if (wrong != nullptr) *wrong = part;
    return absl::InvalidArgumentError(message);
  };
  if (wrong != nullptr) *wrong = TlsPart::kNone;
  using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
  Bio cert_bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return fail(TlsPart::kCertificate,
                "The SSL certificate is not a PEM-encoded X.509 certificate (expected '-----BEGIN CERTIFICATE-----').");
  }
  auto when = [](const ASN1_TIME* time) {
    struct tm t = {};
    if (ASN1_TIME_to_tm(time, &t) != 1) return std::string("an unreadable date");
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &t);
    return std::string(text);
  };
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return fail(TlsPart::kCertificate, absl::StrCat("The SSL certificate expired on ",
                                                    when(X509_get0_notAfter(cert.get())), "."));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
    return fail(TlsPart::kCertificate, absl::StrCat("The SSL certificate is not valid before ",
                                                    when(X509_get0_notBefore(cert.get())), "."));
  }
  Bio key_bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) {
    return fail(TlsPart::kKey,
                "The SSL key is not an unencrypted PEM-encoded private key (expected '-----BEGIN PRIVATE KEY-----' "
                "or '-----BEGIN RSA PRIVATE KEY-----').");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return fail(TlsPart::kKey, "The SSL key does not belong to the SSL certificate.");
  }
  return absl::OkStatus();
}

}  // namespace amlcore
