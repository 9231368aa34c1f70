#include "domain/vm_sizes.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace amlcore::domain {
namespace {
// vCPUs, memory (GiB) and GPUs as Azure documents them.
constexpr VmSize kVmSizes[] = {
    {"Standard_A2_v2", 2, 4, 0},     {"Standard_A4_v2", 4, 8, 0},     {"Standard_B2ms", 2, 8, 0},
    {"Standard_B4ms", 4, 16, 0},     {"Standard_D1_v2", 1, 3.5, 0},   {"Standard_D2_v2", 2, 7, 0},
    {"Standard_D3_v2", 4, 14, 0},    {"Standard_D4_v2", 8, 28, 0},    {"Standard_D5_v2", 16, 56, 0},
    {"Standard_D11_v2", 2, 14, 0},   {"Standard_D12_v2", 4, 28, 0},   {"Standard_D13_v2", 8, 56, 0},
    {"Standard_D14_v2", 16, 112, 0}, {"Standard_DS1_v2", 1, 3.5, 0},  {"Standard_DS2_v2", 2, 7, 0},
    {"Standard_DS3_v2", 4, 14, 0},   {"Standard_DS4_v2", 8, 28, 0},   {"Standard_DS5_v2", 16, 56, 0},
    {"Standard_D2_v3", 2, 8, 0},     {"Standard_D4_v3", 4, 16, 0},    {"Standard_D8_v3", 8, 32, 0},
    {"Standard_D16_v3", 16, 64, 0},  {"Standard_D2s_v3", 2, 8, 0},    {"Standard_D4s_v3", 4, 16, 0},
    {"Standard_D8s_v3", 8, 32, 0},   {"Standard_D16s_v3", 16, 64, 0}, {"Standard_D32s_v3", 32, 128, 0},
    {"Standard_E2s_v3", 2, 16, 0},   {"Standard_E4s_v3", 4, 32, 0},   {"Standard_E8s_v3", 8, 64, 0},
    {"Standard_F2s_v2", 2, 4, 0},    {"Standard_F4s_v2", 4, 8, 0},    {"Standard_F8s_v2", 8, 16, 0},
    {"Standard_F16s_v2", 16, 32, 0}, {"Standard_NC6", 6, 56, 1},      {"Standard_NC12", 12, 112, 2},
    {"Standard_NC24", 24, 224, 4},   {"Standard_NC6s_v3", 6, 112, 1}, {"Standard_NC12s_v3", 12, 224, 2},
    {"Standard_NC24s_v3", 24, 448, 4},
};
}  // namespace

std::span<const VmSize> VmSizes() { return kVmSizes; }

absl::StatusOr<VmSize> FindVmSize(absl::string_view name) {
  for (const auto& size : kVmSizes) {
    if (absl::EqualsIgnoreCase(size.name, name)) return size;
  }
  std::vector<absl::string_view> names;
  for (const auto& size : kVmSizes) names.push_back(size.name);
  return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, unknown vm_size '", name,
                                                 "'. Known sizes: ", absl::StrJoin(names, ", "), "."));
}

}  // namespace amlcore::domain
