// --query: a subset of JMESPath (https://jmespath.org), enough to pick fields out of az-shaped
// results:
//   name                    a field          properties.provisioningState   nested fields
//   [0], [-1]               an element       [*].name, [].name              every element's field
//   (projection)
//   [?state=='Healthy']     elements whose field equals a literal ('text', `json`, or a number;
//   also !=) {n: name, s: state}     an object of several fields      a | b          apply b to the
//   result of a
// Anything else is refused with a message naming the position and this list.
#ifndef AMLCORE_CLI_QUERY_H_
#define AMLCORE_CLI_QUERY_H_

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::cli {

absl::StatusOr<boost::json::value> ApplyQuery(const boost::json::value& value,
                                              absl::string_view query);

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_QUERY_H_
