// UTF-8 validation (the scoring runtime refuses request bodies that are not UTF-8).
#ifndef AMLCORE_COMMON_UTF8_H_
#define AMLCORE_COMMON_UTF8_H_

#include "absl/strings/string_view.h"

namespace amlcore {

// True when `text` is well-formed UTF-8: no truncated or overlong sequences, no surrogates.
bool IsValidUtf8(absl::string_view text);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_UTF8_H_
