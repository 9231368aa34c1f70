// Debian's Abseil has its own absl::string_view (it does not alias std::string_view), and Beast and Boost.JSON
// have theirs. These conversions view the same characters without copying.
#ifndef AMLCORE_COMMON_STRING_VIEWS_H_
#define AMLCORE_COMMON_STRING_VIEWS_H_

#include "absl/strings/string_view.h"

namespace amlcore {

// Any view with data() and size() (std::string_view, boost::core::string_view, ...) as an absl::string_view.
template <class View>
absl::string_view AsAbsl(const View& view) {
  return absl::string_view(view.data(), view.size());
}

}  // namespace amlcore

#endif  // AMLCORE_COMMON_STRING_VIEWS_H_
