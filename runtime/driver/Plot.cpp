//===- Plot.cpp - training curves as a picture (fit --plot, plot) ---------===//
//
// cairo (https://www.cairographics.org/manual/) draws the picture; its
// functions are resolved with dlsym from libcairo.so.2 on first use, so the
// driver (linked into every generated program) has no link dependency on
// it. The header comes from Debian's libcairo2-dev and gives the types and
// prototypes the function pointers are checked against.
//
//===----------------------------------------------------------------------===//

#include "Plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <dlfcn.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

using namespace kiln::driver;

namespace {
[[noreturn]] void fail(const std::string &message) {
  throw std::runtime_error(message);
}

//===----------------------------------------------------------------------===//
// cairo, loaded at run time
//===----------------------------------------------------------------------===//

#define KILN_CAIRO_FUNCTIONS(X)                                                \
  X(cairo_create)                                                              \
  X(cairo_destroy)                                                             \
  X(cairo_status)                                                              \
  X(cairo_status_to_string)                                                    \
  X(cairo_svg_surface_create_for_stream)                                       \
  X(cairo_image_surface_create)                                                \
  X(cairo_surface_write_to_png_stream)                                         \
  X(cairo_surface_status)                                                      \
  X(cairo_surface_finish)                                                      \
  X(cairo_surface_destroy)                                                     \
  X(cairo_set_source_rgb)                                                      \
  X(cairo_paint)                                                               \
  X(cairo_rectangle)                                                           \
  X(cairo_arc)                                                                 \
  X(cairo_fill)                                                                \
  X(cairo_stroke)                                                              \
  X(cairo_new_path)                                                            \
  X(cairo_move_to)                                                             \
  X(cairo_line_to)                                                             \
  X(cairo_set_line_width)                                                      \
  X(cairo_set_line_cap)                                                        \
  X(cairo_set_line_join)                                                       \
  X(cairo_select_font_face)                                                    \
  X(cairo_set_font_size)                                                       \
  X(cairo_show_text)                                                           \
  X(cairo_text_extents)                                                        \
  X(cairo_save)                                                                \
  X(cairo_restore)                                                             \
  X(cairo_rotate)

struct Cairo {
#define KILN_CAIRO_POINTER(name) decltype(&::name) name = nullptr;
  KILN_CAIRO_FUNCTIONS(KILN_CAIRO_POINTER)
#undef KILN_CAIRO_POINTER
};

/// The cairo functions; throws if libcairo.so.2 or one of them is missing.
const Cairo &cairo() {
  static const Cairo *loaded = nullptr;
  static std::string error;
  if (loaded)
    return *loaded;
  if (!error.empty())
    fail(error);
  void *handle = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    error = std::string("drawing the training curves needs the cairo "
                        "library (libcairo.so.2, Debian package libcairo2): ") +
            (why ? why : "not found");
    fail(error);
  }
  static Cairo c;
#define KILN_CAIRO_RESOLVE(name)                                               \
  c.name = reinterpret_cast<decltype(&::name)>(dlsym(handle, #name));          \
  if (!c.name) {                                                               \
    error = "libcairo.so.2 has no " #name " (cairo too old?)";                 \
    fail(error);                                                               \
  }
  KILN_CAIRO_FUNCTIONS(KILN_CAIRO_RESOLVE)
#undef KILN_CAIRO_RESOLVE
  loaded = &c;
  return c;
}

cairo_status_t appendBytes(void *closure, const unsigned char *data,
                           unsigned int length) {
  static_cast<std::string *>(closure)->append(
      reinterpret_cast<const char *>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

//===----------------------------------------------------------------------===//
// Reading histories
//===----------------------------------------------------------------------===//

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> splitCommas(const std::string &line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(
        trim(line.substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start)));
    if (comma == std::string::npos)
      return out;
    start = comma + 1;
  }
}

/// A CSV value: a number (strtod, the C locale's "inf"/"nan" included), or
/// NA / empty for a missing one (NaN). False if it is neither.
bool parseValue(const std::string &text, double &value) {
  if (text.empty() || text == "NA" || text == "nan" || text == "NaN") {
    value = NAN;
    return true;
  }
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return *end == '\0';
}

Curves readCsv(const std::string &path, const std::string &text) {
  std::istringstream in(text);
  std::string line;
  size_t lineNumber = 0;
  std::vector<std::string> names;
  Curves c;
  std::vector<std::vector<double>> columns;
  while (std::getline(in, line)) {
    ++lineNumber;
    if (lineNumber == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0)
      line = line.substr(3);
    if (trim(line).empty()) {
      if (lineNumber == 1)
        fail(path + ":1: empty header; expected epoch,<names> (a history "
                    "written by fit --history)");
      continue;
    }
    std::vector<std::string> fields = splitCommas(line);
    if (lineNumber == 1) {
      names = fields;
      if (names[0] != "epoch")
        fail(path + ":1: the first column is '" + names[0] +
             "', not 'epoch' (a history written by fit --history starts "
             "with epoch,<names>)");
      if (names.size() < 2)
        fail(path + ":1: no loss or metric columns after 'epoch'");
      for (size_t i = 1; i < names.size(); ++i)
        if (names[i].empty())
          fail(path + ":1: column " + std::to_string(i + 1) + " has no name");
      columns.resize(names.size() - 1);
      continue;
    }
    if (fields.size() != names.size())
      fail(path + ":" + std::to_string(lineNumber) + ": expected " +
           std::to_string(names.size()) + " fields, got " +
           std::to_string(fields.size()));
    for (size_t i = 0; i < fields.size(); ++i) {
      double v;
      if (!parseValue(fields[i], v) || (i == 0 && !std::isfinite(v)))
        fail(path + ":" + std::to_string(lineNumber) + ": field " +
             std::to_string(i + 1) + " ('" + names[i] + "'): '" + fields[i] +
             "' is not a number");
      if (i == 0)
        c.epochs.push_back(v + 1); // CSVLogger's epoch is 0-based
      else
        columns[i - 1].push_back(v);
    }
  }
  if (names.empty())
    fail(path + ": the file is empty; expected a history written by fit "
                "--history");
  if (c.epochs.empty())
    fail(path + ": no epochs (only the header)");
  for (size_t i = 1; i < names.size(); ++i)
    c.series.push_back({names[i], std::move(columns[i - 1])});
  return c;
}

Curves readJson(const std::string &path, const std::string &text) {
  nlohmann::ordered_json in =
      nlohmann::ordered_json::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object())
    fail(path + ": not a JSON object of lists (a history written by fit "
                "--history)");
  if (!in.contains("epoch") || !in["epoch"].is_array())
    fail(path + ": no \"epoch\" list");
  size_t n = in["epoch"].size();
  if (n == 0)
    fail(path + ": no epochs");
  Curves c;
  for (const auto &[key, list] : in.items()) {
    if (!list.is_array() || list.size() != n)
      fail(path + ": \"" + key + "\" is not a list of " + std::to_string(n) +
           " values, as \"epoch\" is");
    std::vector<double> values;
    for (size_t i = 0; i < n; ++i) {
      const auto &v = list[i];
      if (!v.is_number() && !v.is_null())
        fail(path + ": \"" + key + "\"[" + std::to_string(i) +
             "] is not a number");
      if (key == "epoch" && !v.is_number())
        fail(path + ": \"epoch\"[" + std::to_string(i) + "] is not a number");
      values.push_back(v.is_number() ? v.get<double>() : NAN);
    }
    if (key == "epoch")
      c.epochs = std::move(values);
    else if (key != "time")
      c.series.push_back({key, std::move(values)});
  }
  if (c.series.empty())
    fail(path + ": no loss or metric lists besides \"epoch\"");
  return c;
}

//===----------------------------------------------------------------------===//
// Drawing
//===----------------------------------------------------------------------===//

constexpr double kPanelWidth = 460, kPanelHeight = 300;
/// Values beyond +-kMaxPlotted are not drawn (as infinities): the axis
/// arithmetic (ranges, steps, ticks) then stays finite for any history.
constexpr double kMaxPlotted = 1e300;
/// At most this many ticks per axis, whatever the range's rounding does.
constexpr size_t kMaxTicks = 64;
/// Epoch numbers beyond +-1e15 are refused: near 2^53 consecutive
/// numbers are no longer distinct doubles and the x axis has no width.
constexpr double kMaxEpoch = 1e15;
/// At most this many panels (quantities) in one picture.
constexpr size_t kMaxPanels = 64;
constexpr double kLeft = 72, kRight = 18, kTop = 34, kBottom = 50;
constexpr double kTrain[3] = {0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0};
constexpr double kValidation[3] = {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0};

/// Tick positions: multiples of 1, 2 or 5 times a power of ten, about
/// `target` of them, covering [low, high].
std::vector<double> ticks(double low, double high, int target, double *step) {
  double raw = (high - low) / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double s = magnitude;
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * magnitude >= raw) {
      s = f * magnitude;
      break;
    }
  *step = s;
  std::vector<double> out;
  // Counted, not accumulated: v += s would stall where s is below the ulp
  // of v.
  double first = std::ceil(low / s - 1e-9);
  for (size_t i = 0; i < kMaxTicks; ++i) {
    double v = (first + static_cast<double>(i)) * s;
    if (!(v <= high + s * 1e-9))
      break;
    out.push_back(std::fabs(v) < s * 1e-9 ? 0.0 : v);
  }
  return out;
}

std::string tickText(double v, double step) {
  char buffer[32];
  if (step >= 1 && std::fabs(v) < 1e6)
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else if (step >= 1e-4 && std::fabs(v) < 1e6)
    std::snprintf(buffer, sizeof buffer, "%.*f",
                  static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), v);
  else
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

struct Panel {
  std::string title;
  const std::vector<double> *train = nullptr, *validation = nullptr;
  std::string trainName, validationName;
};

/// Whether a history value is drawn: finite and within +-kMaxPlotted.
bool drawn(double v) { return std::isfinite(v) && std::fabs(v) <= kMaxPlotted; }

/// Draws one panel; returns a note on the values it left out ("" if none).
std::string drawPanel(const Cairo &k, cairo_t *cr, const Panel &p,
                      const std::vector<double> &epochs, double x0, double y0) {
  double left = x0 + kLeft, right = x0 + kPanelWidth - kRight;
  double top = y0 + kTop, bottom = y0 + kPanelHeight - kBottom;
  // Ranges over the drawn values; the others are counted for the note.
  double ylo = INFINITY, yhi = -INFINITY;
  size_t missing = 0, outside = 0;
  for (const std::vector<double> *s : {p.train, p.validation})
    if (s)
      for (size_t i = 0; i < s->size() && i < epochs.size(); ++i) {
        double v = (*s)[i];
        if (drawn(v)) {
          ylo = std::min(ylo, v);
          yhi = std::max(yhi, v);
        } else if (std::isnan(v)) {
          ++missing;
        } else {
          ++outside;
        }
      }
  if (!std::isfinite(ylo)) {
    ylo = 0;
    yhi = 1;
  }
  if (yhi - ylo < 1e-12 * std::max(1.0, std::fabs(yhi))) {
    double pad = std::max(std::fabs(yhi) * 0.1, 0.5);
    ylo -= pad;
    yhi += pad;
  }
  double ystep;
  ticks(ylo, yhi, 5, &ystep);
  ylo = std::floor(ylo / ystep + 1e-9) * ystep;
  yhi = std::ceil(yhi / ystep - 1e-9) * ystep;
  std::vector<double> yticks = ticks(ylo, yhi, 5, &ystep);
  double xlo = *std::min_element(epochs.begin(), epochs.end());
  double xhi = *std::max_element(epochs.begin(), epochs.end());
  if (xhi - xlo < 1) {
    xlo -= 0.5;
    xhi += 0.5;
  }
  double xstep;
  std::vector<double> xticks =
      ticks(xlo, xhi,
            static_cast<int>(std::min(8.0, std::floor(xhi - xlo) + 1)), &xstep);
  if (xstep < 1) {
    xstep = 1;
    xticks.clear();
    for (double v = std::ceil(xlo); v <= xhi && xticks.size() < kMaxTicks; ++v)
      xticks.push_back(v);
  }
  auto X = [&](double e) {
    return left + (e - xlo) / (xhi - xlo) * (right - left);
  };
  auto Y = [&](double v) {
    return bottom - (v - ylo) / (yhi - ylo) * (bottom - top);
  };

  k.cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
  // Grid and ticks.
  k.cairo_set_font_size(cr, 11);
  k.cairo_set_line_width(cr, 1);
  k.cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  k.cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
  k.cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
  for (double v : yticks) {
    k.cairo_move_to(cr, left, std::round(Y(v)) + 0.5);
    k.cairo_line_to(cr, right, std::round(Y(v)) + 0.5);
  }
  for (double e : xticks) {
    k.cairo_move_to(cr, std::round(X(e)) + 0.5, top);
    k.cairo_line_to(cr, std::round(X(e)) + 0.5, bottom);
  }
  k.cairo_stroke(cr);
  k.cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  k.cairo_rectangle(cr, left + 0.5, top + 0.5, right - left, bottom - top);
  k.cairo_stroke(cr);
  cairo_text_extents_t ext;
  for (double v : yticks) {
    std::string t = tickText(v, ystep);
    k.cairo_text_extents(cr, t.c_str(), &ext);
    k.cairo_move_to(cr, left - 6 - ext.x_advance, Y(v) + ext.height / 2);
    k.cairo_show_text(cr, t.c_str());
  }
  for (double e : xticks) {
    std::string t = tickText(e, xstep);
    k.cairo_text_extents(cr, t.c_str(), &ext);
    k.cairo_move_to(cr, X(e) - ext.x_advance / 2, bottom + 16);
    k.cairo_show_text(cr, t.c_str());
  }
  // Axis labels and title.
  k.cairo_set_font_size(cr, 12);
  k.cairo_text_extents(cr, "epoch", &ext);
  k.cairo_move_to(cr, (left + right) / 2 - ext.x_advance / 2, bottom + 36);
  k.cairo_show_text(cr, "epoch");
  k.cairo_text_extents(cr, p.title.c_str(), &ext);
  k.cairo_save(cr);
  k.cairo_move_to(cr, x0 + 18, (top + bottom) / 2 + ext.x_advance / 2);
  k.cairo_rotate(cr, -M_PI / 2);
  k.cairo_show_text(cr, p.title.c_str());
  k.cairo_restore(cr);
  k.cairo_set_font_size(cr, 13);
  k.cairo_move_to(cr, left, y0 + 22);
  k.cairo_show_text(cr, p.title.c_str());

  // The curves: one stroked path each, with a dot per value.
  auto curve = [&](const std::vector<double> &values, const double *rgb) {
    k.cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    k.cairo_set_line_width(cr, 2);
    k.cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    k.cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    bool open = false;
    for (size_t i = 0; i < values.size() && i < epochs.size(); ++i) {
      if (!drawn(values[i])) {
        open = false;
        continue;
      }
      if (open) {
        k.cairo_line_to(cr, X(epochs[i]), Y(values[i]));
      } else {
        k.cairo_move_to(cr, X(epochs[i]), Y(values[i]));
        // A lone point still shows (round cap on a zero-length segment).
        k.cairo_line_to(cr, X(epochs[i]), Y(values[i]));
      }
      open = true;
    }
    k.cairo_stroke(cr);
    for (size_t i = 0; i < values.size() && i < epochs.size(); ++i)
      if (drawn(values[i])) {
        k.cairo_new_path(cr);
        k.cairo_arc(cr, X(epochs[i]), Y(values[i]), 2.5, 0, 2 * M_PI);
        k.cairo_fill(cr);
      }
  };
  if (p.train)
    curve(*p.train, kTrain);
  if (p.validation)
    curve(*p.validation, kValidation);

  // Legend in the margin above the plot, right-aligned on the title's line
  // (filled swatches, so that the only stroked paths in a series' colour
  // are its curve).
  k.cairo_set_font_size(cr, 11);
  std::vector<std::pair<std::string, const double *>> entries;
  if (p.train)
    entries.push_back({"training", kTrain});
  if (p.validation)
    entries.push_back({"validation", kValidation});
  double lx = right;
  for (size_t i = entries.size(); i-- > 0;) {
    k.cairo_text_extents(cr, entries[i].first.c_str(), &ext);
    lx -= ext.x_advance + 24 + (i + 1 < entries.size() ? 14 : 0);
    const double *rgb = entries[i].second;
    k.cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    k.cairo_rectangle(cr, lx, y0 + 16, 18, 4);
    k.cairo_fill(cr);
    k.cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    k.cairo_move_to(cr, lx + 24, y0 + 22);
    k.cairo_show_text(cr, entries[i].first.c_str());
  }

  // Left-out values are said, in the panel's lower left corner.
  std::string note;
  if (outside)
    note = std::to_string(outside) + " infinite or beyond +-1e300";
  if (missing)
    note +=
        (note.empty() ? "" : ", ") + std::to_string(missing) + " missing (NaN)";
  if (!note.empty()) {
    note = "not drawn: " + note;
    k.cairo_set_font_size(cr, 10);
    k.cairo_set_source_rgb(cr, 0.6, 0.1, 0.1);
    k.cairo_move_to(cr, x0 + 8, y0 + kPanelHeight - 6);
    k.cairo_show_text(cr, note.c_str());
    note = p.title + ": " + note;
  }
  return note;
}
} // namespace

Curves kiln::driver::readHistory(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path + ": cannot open the history file");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  bool json =
      path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (!json) {
    size_t first = text.find_first_not_of(" \t\r\n");
    json = first != std::string::npos && text[first] == '{';
  }
  Curves c = json ? readJson(path, text) : readCsv(path, text);
  for (double e : c.epochs)
    if (!std::isfinite(e) || std::fabs(e) > kMaxEpoch)
      fail(path + ": an epoch number is not finite or beyond +-1e15");
  return c;
}

std::string kiln::driver::plotCurves(const Curves &curves, bool svg,
                                     std::vector<std::string> *notes) {
  if (curves.epochs.empty() || curves.series.empty())
    fail("no epochs to plot");
  for (double e : curves.epochs)
    if (!std::isfinite(e) || std::fabs(e) > kMaxEpoch)
      fail("an epoch number is not finite or beyond +-1e15");
  const Cairo &k = cairo();
  // Panels: each name that is not "val_*", with its "val_" twin; a "val_*"
  // series without a training twin gets a panel of its own.
  std::map<std::string, const std::vector<double> *> byName;
  for (const auto &[name, values] : curves.series)
    byName[name] = &values;
  std::vector<Panel> panels;
  for (const auto &[name, values] : curves.series) {
    Panel p;
    if (name.compare(0, 4, "val_") == 0) {
      if (byName.count(name.substr(4)))
        continue;
      p.title = name.substr(4);
      p.validation = &values;
      p.validationName = name;
    } else {
      p.title = name;
      p.train = &values;
      p.trainName = name;
      auto it = byName.find("val_" + name);
      if (it != byName.end()) {
        p.validation = it->second;
        p.validationName = it->first;
      }
    }
    panels.push_back(p);
  }
  // The loss first, then the metrics in the history's order.
  auto loss = std::find_if(panels.begin(), panels.end(),
                           [](const Panel &p) { return p.title == "loss"; });
  if (loss != panels.end())
    std::rotate(panels.begin(), loss, loss + 1);
  // The picture grows with the panels (kPanelHeight per two): a cap keeps
  // it within cairo's image limit (32767 pixels) and a sane file size.
  if (panels.size() > kMaxPanels)
    fail("the history has " + std::to_string(panels.size()) +
         " quantities to plot; at most " + std::to_string(kMaxPanels) +
         " panels are drawn (a picture of " +
         std::to_string(static_cast<int>(kPanelWidth) * 2) + " x " +
         std::to_string(static_cast<int>(kPanelHeight) * kMaxPanels / 2) +
         " pixels)");
  int columns = panels.size() > 1 ? 2 : 1;
  int rows = static_cast<int>((panels.size() + columns - 1) / columns);
  double width = kPanelWidth * columns, height = kPanelHeight * rows;

  std::string bytes;
  cairo_surface_t *surface =
      svg ? k.cairo_svg_surface_create_for_stream(appendBytes, &bytes, width,
                                                  height)
          : k.cairo_image_surface_create(CAIRO_FORMAT_RGB24,
                                         static_cast<int>(width),
                                         static_cast<int>(height));
  auto check = [&](cairo_status_t status, const char *what) {
    if (status != CAIRO_STATUS_SUCCESS)
      fail(std::string("cairo: ") + what + ": " +
           k.cairo_status_to_string(status));
  };
  check(k.cairo_surface_status(surface), "cannot create the surface");
  cairo_t *cr = k.cairo_create(surface);
  k.cairo_set_source_rgb(cr, 1, 1, 1);
  k.cairo_paint(cr);
  for (size_t i = 0; i < panels.size(); ++i) {
    std::string note =
        drawPanel(k, cr, panels[i], curves.epochs,
                  kPanelWidth * static_cast<double>(i % columns),
                  kPanelHeight * static_cast<double>(i / columns));
    if (notes && !note.empty())
      notes->push_back(std::move(note));
  }
  cairo_status_t status = k.cairo_status(cr);
  k.cairo_destroy(cr);
  if (status == CAIRO_STATUS_SUCCESS && !svg)
    status = k.cairo_surface_write_to_png_stream(surface, appendBytes, &bytes);
  k.cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = k.cairo_surface_status(surface);
  k.cairo_surface_destroy(surface);
  check(status, "drawing failed");
  return bytes;
}
