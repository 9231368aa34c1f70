// amlcore's certificate authority on this machine: it issues the certificates of clusters that ask for SSL
// with a leaf domain label (on Azure, a certificate Microsoft issues). Its key stays in its directory (mode 0600)
// and its certificate (ca.pem) is what clients trust to reach those clusters.
//
//   auto ca = LocalCertificateAuthority::Open(home + "/ca");
//   auto issued = ca->Issue("contoso.localhost");   // valid for that name, localhost, 127.0.0.1 and ::1
#ifndef AMLCORE_COMMON_LOCAL_CA_H_
#define AMLCORE_COMMON_LOCAL_CA_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace amlcore {

class LocalCertificateAuthority {
 public:
  // The authority kept in `directory` (ca.key and ca.pem), made on first use: an ECDSA P-256 key and a
  // self-signed CA certificate valid for ten years, named after the directory's owner and machine.
  static absl::StatusOr<LocalCertificateAuthority> Open(const std::string& directory);

  // The CA certificate's file, for clients to trust.
  const std::string& certificate_file() const { return certificate_file_; }

  struct Issued {
    std::string certificate_pem;  // the leaf, then the CA certificate
    std::string private_key_pem;
  };
  // A new key and a server certificate for `dns_name` (and localhost, 127.0.0.1, ::1) valid for `validity`.
  absl::StatusOr<Issued> Issue(const std::string& dns_name, std::chrono::hours validity = std::chrono::hours(24 * 365));

 private:
  LocalCertificateAuthority(std::string certificate_file, std::string certificate_pem, std::string key_pem)
      : certificate_file_(std::move(certificate_file)),
        certificate_pem_(std::move(certificate_pem)),
        key_pem_(std::move(key_pem)) {}

  std::string certificate_file_;
  std::string certificate_pem_;
  std::string key_pem_;
};

}  // namespace amlcore

#endif  // AMLCORE_COMMON_LOCAL_CA_H_
