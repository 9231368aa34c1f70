#include "cli/query.h"

#include <cctype>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

constexpr char kSupported[] =
    "supported: name, a.b, [0], [*].name, [].name, [?field=='value'] (or !=, `json`, numbers), "
    "{alias: expression, ...}, a | b";

// Evaluates one expression over a value; the text is consumed as it is read.
class Evaluator {
 public:
  explicit Evaluator(absl::string_view query) : query_(query) {}

  absl::StatusOr<bj::value> Run(const bj::value& input) {
    auto result = Pipe(input, query_);
    if (!result.ok()) return result;
    return result;
  }

 private:
  absl::Status Error(absl::string_view expr, absl::string_view what) const {
    // Every piece being read is a view into the query, so its address gives its position.
    size_t at = expr.data() >= query_.data() && expr.data() <= query_.data() + query_.size()
                    ? static_cast<size_t>(expr.data() - query_.data())
                    : 0;
    return absl::InvalidArgumentError(absl::StrCat("--query: ", what, " at position ", at, " of '",
                                                   query_, "'; ", kSupported, "."));
  }

  // Where `open` (at expr[0]) closes, skipping quoted text; npos when it does not.
  static size_t Closing(absl::string_view expr, char open, char close) {
    int depth = 0;
    char quote = 0;
    for (size_t i = 0; i < expr.size(); ++i) {
      char c = expr[i];
      if (quote) {
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '\'' || c == '`' || c == '"') {
        quote = c;
      } else if (c == open) {
        ++depth;
      } else if (c == close && --depth == 0) {
        return i;
      }
    }
    return absl::string_view::npos;
  }

  // Splits at top-level occurrences of `sep`.
  static std::vector<absl::string_view> SplitTop(absl::string_view expr, char sep) {
    std::vector<absl::string_view> parts;
    int depth = 0;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i < expr.size(); ++i) {
      char c = expr[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '`' || c == '"') {
        quote = c;
      } else if (c == '[' || c == '{' || c == '(') {
        ++depth;
      } else if (c == ']' || c == '}' || c == ')') {
        --depth;
      } else if (c == sep && depth == 0) {
        parts.push_back(expr.substr(start, i - start));
        start = i + 1;
      }
    }
    parts.push_back(expr.substr(start));
    return parts;
  }

  absl::StatusOr<bj::value> Pipe(const bj::value& input, absl::string_view expr) {
    bj::value current = input;
    for (absl::string_view part : SplitTop(expr, '|')) {
      auto next = Chain(current, absl::StripAsciiWhitespace(part));
      if (!next.ok()) return next;
      current = std::move(*next);
    }
    return current;
  }

  // A chain of field names, indexes, projections, filters and a final multiselect.
  absl::StatusOr<bj::value> Chain(const bj::value& v, absl::string_view expr) {
    expr = absl::StripAsciiWhitespace(expr);
    if (expr.empty()) return v;
    if (expr[0] == '@') return Chain(v, expr.substr(1));
    if (expr[0] == '.') {
      if (expr.size() == 1) return Error(expr, "a '.' must be followed by a field name");
      return Chain(v, expr.substr(1));
    }
    if (std::isalpha(static_cast<unsigned char>(expr[0])) || expr[0] == '_' || expr[0] == '"') {
      std::string name;
      size_t end = 0;
      if (expr[0] == '"') {
        end = expr.find('"', 1);
        if (end == absl::string_view::npos) return Error(expr, "an unterminated quoted name");
        name = std::string(expr.substr(1, end - 1));
        ++end;
      } else {
        while (end < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[end])) ||
                                     expr[end] == '_' || expr[end] == '-')) {
          ++end;
        }
        name = std::string(expr.substr(0, end));
      }
      const bj::value* field = v.is_object() ? v.as_object().if_contains(name) : nullptr;
      return Chain(field ? *field : bj::value(nullptr), expr.substr(end));
    }
    if (expr[0] == '{') {
      size_t close = Closing(expr, '{', '}');
      if (close == absl::string_view::npos) return Error(expr, "a '{' without its '}'");
      if (!absl::StripAsciiWhitespace(expr.substr(close + 1)).empty()) {
        return Error(expr.substr(close + 1), "nothing may follow a {...} multiselect but '| ...'");
      }
      if (v.is_null()) return bj::value(nullptr);
      bj::object out;
      for (absl::string_view item : SplitTop(expr.substr(1, close - 1), ',')) {
        size_t colon = item.find(':');
        if (colon == absl::string_view::npos)
          return Error(item, "a multiselect item needs 'alias: expression'");
        auto value = Pipe(v, item.substr(colon + 1));
        if (!value.ok()) return value;
        out[std::string(absl::StripAsciiWhitespace(item.substr(0, colon)))] = std::move(*value);
      }
      return bj::value(std::move(out));
    }
    if (expr[0] == '[') {
      size_t close = Closing(expr, '[', ']');
      if (close == absl::string_view::npos) return Error(expr, "a '[' without its ']'");
      absl::string_view inside = absl::StripAsciiWhitespace(expr.substr(1, close - 1));
      absl::string_view rest = expr.substr(close + 1);
      if (inside.empty() || inside == "*") return Project(v, rest, inside.empty(), nullptr);
      if (inside[0] == '?') return Project(v, rest, false, &inside);
      int64_t index = 0;
      if (!absl::SimpleAtoi(inside, &index)) return Error(expr, "an index must be a whole number");
      if (!v.is_array()) return Chain(bj::value(nullptr), rest);
      const bj::array& a = v.as_array();
      int64_t at = index < 0 ? static_cast<int64_t>(a.size()) + index : index;
      if (at < 0 || at >= static_cast<int64_t>(a.size())) return Chain(bj::value(nullptr), rest);
      return Chain(a[static_cast<size_t>(at)], rest);
    }
    return Error(expr, "an unexpected character");
  }

  // Where the next top-level flatten ("[]") of `expr` starts; npos when there is none.
  static size_t NextFlatten(absl::string_view expr) {
    for (size_t i = 0; i < expr.size(); ++i) {
      char c = expr[i];
      if (c == '\'' || c == '`' || c == '"') {
        size_t end = expr.find(c, i + 1);
        if (end == absl::string_view::npos) return absl::string_view::npos;
        i = end;
      } else if (c == '{') {
        size_t end = Closing(expr.substr(i), '{', '}');
        if (end == absl::string_view::npos) return absl::string_view::npos;
        i += end;
      } else if (c == '[') {
        size_t end = Closing(expr.substr(i), '[', ']');
        if (end == absl::string_view::npos) return absl::string_view::npos;
        if (absl::StripAsciiWhitespace(expr.substr(i + 1, end - 1)).empty()) return i;
        i += end;
      }
    }
    return absl::string_view::npos;
  }

  // Applies `rest` to each element (of an array, or the values of an object with [*]), dropping
  // nulls. A flatten further on applies to the projection's whole result, as in JMESPath:
  // [].versions[].name is one flat list.
  absl::StatusOr<bj::value> Project(const bj::value& v, absl::string_view rest, bool flatten,
                                    const absl::string_view* filter) {
    size_t next = NextFlatten(rest);
    absl::string_view tail;
    bool chained = next != absl::string_view::npos;
    if (chained) {
      tail = rest.substr(next);
      rest = rest.substr(0, next);
    }
    bj::array items;
    if (v.is_array()) {
      for (const auto& item : v.as_array()) {
        if (flatten && item.is_array()) {
          for (const auto& inner : item.as_array()) items.push_back(inner);
        } else {
          items.push_back(item);
        }
      }
    } else if (v.is_object() && !flatten && filter == nullptr) {
      for (const auto& [key, item] : v.as_object()) items.push_back(item);
    } else {
      return bj::value(nullptr);
    }
    bj::array out;
    for (const auto& item : items) {
      if (filter != nullptr) {
        auto keep = Condition(item, filter->substr(1));
        if (!keep.ok()) return keep.status();
        if (!*keep) continue;
      }
      auto value = Chain(item, rest);
      if (!value.ok()) return value;
      if (!value->is_null()) out.push_back(std::move(*value));
    }
    if (chained) return Chain(bj::value(std::move(out)), tail);
    return bj::value(std::move(out));
  }

  absl::StatusOr<bj::value> Literal(absl::string_view text) {
    text = absl::StripAsciiWhitespace(text);
    if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') {
      return bj::value(bj::string(std::string(text.substr(1, text.size() - 2))));
    }
    if (text.size() >= 2 && text.front() == '`' && text.back() == '`') {
      boost::system::error_code ec;
      bj::value v = bj::parse(std::string(text.substr(1, text.size() - 2)), ec);
      if (ec) return Error(text, "a `...` literal must hold JSON");
      return v;
    }
    double number = 0;
    if (absl::SimpleAtod(text, &number)) return bj::value(number);
    return Error(text, "a comparison needs a literal: 'text', `json` or a number");
  }

  static bool Equal(const bj::value& a, const bj::value& b) {
    if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
    return a == b;
  }

  absl::StatusOr<bool> Condition(const bj::value& item, absl::string_view cond) {
    for (absl::string_view op : {"==", "!="}) {
      size_t at = cond.find(op);
      if (at == absl::string_view::npos) continue;
      auto left = Pipe(item, cond.substr(0, at));
      if (!left.ok()) return left.status();
      auto right = Literal(cond.substr(at + 2));
      if (!right.ok()) return right.status();
      bool equal = Equal(*left, *right);
      return op == "==" ? equal : !equal;
    }
    auto value = Pipe(item, cond);
    if (!value.ok()) return value.status();
    // JMESPath truthiness: null, false, "" and empty containers are false.
    const bj::value& v = *value;
    if (v.is_null()) return false;
    if (v.is_bool()) return v.as_bool();
    if (v.is_string()) return !v.as_string().empty();
    if (v.is_array()) return !v.as_array().empty();
    if (v.is_object()) return !v.as_object().empty();
    return true;
  }

  absl::string_view query_;
};
}  // namespace

absl::StatusOr<bj::value> ApplyQuery(const bj::value& value, absl::string_view query) {
  return Evaluator(query).Run(value);
}

}  // namespace amlcore::cli
