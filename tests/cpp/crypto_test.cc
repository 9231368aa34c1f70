// Certificate and key checks that SSL settings go through before anything is stored or served.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/crypto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {

using ::testing::HasSubstr;

struct Pair {
  std::string certificate;
  std::string key;
};

std::string Pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

// A self-signed P-256 certificate valid from now + `from` to now + `to` seconds.
Pair SelfSigned(long from, long to) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), to);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return {std::string(data, size), Pem(key.get())};
}

TEST(CertificateCheckTest, AValidPairPasses) {
  Pair p = SelfSigned(-60, 86400);
  TlsPart wrong = TlsPart::kCertificate;
  EXPECT_TRUE(CheckCertificateAndKey(p.certificate, p.key, &wrong).ok());
  EXPECT_EQ(wrong, TlsPart::kNone);
}

TEST(CertificateCheckTest, SaysWhichPartIsWrongAndWhy) {
  Pair p = SelfSigned(-60, 86400);
  Pair other = SelfSigned(-60, 86400);
  TlsPart wrong = TlsPart::kNone;
  EXPECT_THAT(CheckCertificateAndKey("hello", p.key, &wrong).message(), HasSubstr("not a PEM-encoded X.509"));
  EXPECT_EQ(wrong, TlsPart::kCertificate);
  EXPECT_THAT(CheckCertificateAndKey(p.certificate, "hello", &wrong).message(), HasSubstr("not an unencrypted PEM"));
  EXPECT_EQ(wrong, TlsPart::kKey);
  EXPECT_EQ(CheckCertificateAndKey(p.certificate, other.key, &wrong).message(),
            "The SSL key does not belong to the SSL certificate.");
  EXPECT_EQ(wrong, TlsPart::kKey);
}

TEST(CertificateCheckTest, RefusesExpiredAndFutureCertificates) {
  Pair expired = SelfSigned(-2 * 86400, -86400);
  TlsPart wrong = TlsPart::kNone;
  EXPECT_THAT(CheckCertificateAndKey(expired.certificate, expired.key, &wrong).message(),
              HasSubstr("The SSL certificate expired on "));
  EXPECT_EQ(wrong, TlsPart::kCertificate);
  Pair future = SelfSigned(86400, 2 * 86400);
  EXPECT_THAT(CheckCertificateAndKey(future.certificate, future.key).message(),
              HasSubstr("The SSL certificate is not valid before "));
}

}  // namespace
}  // namespace amlcore
