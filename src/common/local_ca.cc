#include "common/local_ca.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace amlcore {
namespace {

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("Cannot ", what, " (OpenSSL)."));
}

std::string Text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return Text(bio.get());
}

std::string CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  return Text(bio.get());
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate with a random serial, valid from an hour ago (clock skew) for `validity`.
Cert NewCertificate(EVP_PKEY* key, const std::string& common_name, std::chrono::hours validity) {
  Cert cert(X509_new(), X509_free);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof(serial), nullptr), BN_free);
  X509_set_version(cert.get(), 2);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count()) * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

absl::StatusOr<LocalCertificateAuthority> LocalCertificateAuthority::Open(const std::string& directory) {
  std::string key_file = absl::StrCat(directory, "/ca.key");
  std::string certificate_file = absl::StrCat(directory, "/ca.pem");
  auto key_pem = ReadFile(key_file);
  auto certificate_pem = ReadFile(certificate_file);
  if (key_pem.ok() && certificate_pem.ok()) {
    return LocalCertificateAuthority(certificate_file, std::move(*certificate_pem), std::move(*key_pem));
  }
  if (auto s = MakeDirectories(directory, 0700); !s.ok()) return s;
  Pkey key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return OpenSslError("make the certificate authority's key");
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  Cert cert = NewCertificate(key.get(), absl::StrCat("amlcore local CA (", host, ")"), std::chrono::hours(24 * 3650));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (!AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("make the certificate authority's certificate");
  }
  std::string made_key = KeyPem(key.get());
  std::string made_cert = CertPem(cert.get());
  // The key first, readable by its owner only; the certificate's presence marks the authority complete.
  if (auto s = WriteFileAtomic(key_file, made_key, 0600); !s.ok()) return s;
  if (auto s = WriteFileAtomic(certificate_file, made_cert, 0644); !s.ok()) return s;
  return LocalCertificateAuthority(certificate_file, std::move(made_cert), std::move(made_key));
}

absl::StatusOr<LocalCertificateAuthority::Issued> LocalCertificateAuthority::Issue(const std::string& dns_name,
                                                                                     std::chrono::hours validity) {
  Bio ca_key_bio(BIO_new_mem_buf(key_pem_.data(), static_cast<int>(key_pem_.size())), BIO_free);
  Pkey ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  Bio ca_cert_bio(BIO_new_mem_buf(certificate_pem_.data(), static_cast<int>(certificate_pem_.size())), BIO_free);
  Cert ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!ca_key || !ca_cert) return absl::InternalError(absl::StrCat("The certificate authority in ", certificate_file_,
                                                                   " does not load; remove its directory to make a new one."));
  Pkey key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return OpenSslError("make a key");
  Cert cert = NewCertificate(key.get(), dns_name, validity);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  std::string names = absl::StrCat("DNS:", dns_name, ",DNS:localhost,IP:127.0.0.1,IP:::1");
  if (!AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, names) ||
      !AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid") ||
      X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslError(absl::StrCat("issue a certificate for ", dns_name));
  }
  return Issued{CertPem(cert.get()) + certificate_pem_, KeyPem(key.get())};
}

}  // namespace amlcore
