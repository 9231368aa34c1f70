#include "cli/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/query.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

void Indented(const bj::value& v, int depth, std::string& out) {
  std::string pad(static_cast<size_t>(depth + 1) * 2, ' ');
  std::string close(static_cast<size_t>(depth) * 2, ' ');
  if (v.is_object() && !v.as_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [key, item] : v.as_object()) {
      if (!first) out += ",\n";
      first = false;
      absl::StrAppend(&out, pad, bj::serialize(bj::value(key)), ": ");
      Indented(item, depth + 1, out);
    }
    absl::StrAppend(&out, "\n", close, "}");
  } else if (v.is_array() && !v.as_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& item : v.as_array()) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      Indented(item, depth + 1, out);
    }
    absl::StrAppend(&out, "\n", close, "]");
  } else {
    out += bj::serialize(v);
  }
}

// A scalar as a cell: strings unquoted, null empty, containers as compact JSON.
std::string Cell(const bj::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "";
  if (v.is_bool()) return v.as_bool() ? "True" : "False";
  return bj::serialize(v);
}

bool Scalar(const bj::value& v) { return !v.is_object() && !v.is_array(); }

std::vector<const bj::value*> Rows(const bj::value& v) {
  std::vector<const bj::value*> rows;
  if (v.is_array()) {
    for (const auto& item : v.as_array()) rows.push_back(&item);
  } else if (!v.is_null()) {
    rows.push_back(&v);
  }
  return rows;
}

std::string Tsv(const bj::value& v) {
  std::string out;
  for (const bj::value* row : Rows(v)) {
    std::vector<std::string> cells;
    if (row->is_object()) {
      for (const auto& [key, item] : row->as_object()) {
        if (Scalar(item)) cells.push_back(Cell(item));
      }
    } else if (row->is_array()) {
      for (const auto& item : row->as_array()) cells.push_back(Cell(item));
    } else {
      cells.push_back(Cell(*row));
    }
    absl::StrAppend(&out, absl::StrJoin(cells, "\t"), "\n");
  }
  return out;
}

absl::StatusOr<std::string> Table(const bj::value& v, std::vector<TableColumn> columns) {
  std::vector<const bj::value*> rows = Rows(v);
  if (rows.empty()) return std::string();
  if (Scalar(*rows.front())) return Tsv(v);
  // Columns a --query reshaped result no longer has give way to the result's own scalar fields.
  bool fits = false;
  if (rows.front()->is_object()) {
    for (const TableColumn& c : columns) {
      auto cell = ApplyQuery(*rows.front(), c.path);
      fits = fits || (cell.ok() && !cell->is_null());
    }
  }
  if (!fits) {
    columns.clear();
    if (rows.front()->is_object()) {
      for (const auto& [key, item] : rows.front()->as_object()) {
        if (Scalar(item)) columns.push_back({std::string(key), std::string(key)});
      }
    }
  }
  std::vector<std::vector<std::string>> cells;
  cells.push_back({});
  for (const TableColumn& c : columns) cells.back().push_back(c.header);
  for (const bj::value* row : rows) {
    cells.push_back({});
    for (const TableColumn& c : columns) {
      cells.back().push_back(Cell(ApplyQuery(*row, c.path).value_or(nullptr)));
    }
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& line) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      absl::StrAppend(&text, line[i],
                      i + 1 < line.size() ? std::string(widths[i] - line[i].size() + 2, ' ') : "");
    }
    absl::StrAppend(&out, text, "\n");
  };
  emit(cells.front());
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  emit(rule);
  for (size_t i = 1; i < cells.size(); ++i) emit(cells[i]);
  return out;
}
}  // namespace

absl::StatusOr<std::string> Render(const bj::value& value, absl::string_view format,
                                   const std::vector<TableColumn>& columns) {
  if (format == "json") {
    std::string out;
    Indented(value, 0, out);
    return out + "\n";
  }
  if (format == "tsv") return Tsv(value);
  if (format == "table") return Table(value, columns);
  return absl::InvalidArgumentError(absl::StrCat(
      "-o/--output: '", format, "' is not an output format; allowed: json, table, tsv."));
}

}  // namespace amlcore::cli
