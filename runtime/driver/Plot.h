//===- Plot.h - training curves as a picture (fit --plot, plot) -*- C++ -*-===//
//
// Draws a training history (loss and every metric per epoch, training and
// validation) as an SVG or PNG picture with cairo. cairo is loaded at run
// time (dlopen("libcairo.so.2")), so that programs kilnc links, and
// programs embedding a model, do not depend on it: only drawing needs it,
// and without it drawing fails with a message naming the library and the
// Debian package (docs/architecture.md, "Training curves").
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DRIVER_PLOT_H
#define KILN_DRIVER_PLOT_H

#include <string>
#include <utility>
#include <vector>

namespace kiln::driver {

/// A history: the epoch numbers (1-based, as fit prints them) and one
/// series per logged name ("loss", "accuracy", "val_loss", ...) with a
/// value per epoch; NaN marks an epoch without a value.
struct Curves {
  std::vector<double> epochs;
  std::vector<std::pair<std::string, std::vector<double>>> series;
};

/// Reads a history file written by `fit --history`: CSV in Keras'
/// CSVLogger layout (a header `epoch,<names>`, the 0-based epoch, numbers
/// or NA/empty/nan for a missing value) or JSON (Keras' History.history:
/// an object of equal-length lists, with an "epoch" list of 1-based
/// numbers; "time" is ignored). Throws std::runtime_error naming the file
/// and the line (CSV) or key (JSON): no epoch column, a row of the wrong
/// length, a value that is not a number, no epochs, no series, an epoch
/// number that is not finite or beyond +-1e15.
Curves readHistory(const std::string &path);

/// The picture of `curves` as the bytes of an SVG (`svg` true) or PNG
/// file: one panel per quantity (a name and its "val_" twin; at most 64,
/// so at most 920 x 9600 pixels), epochs on the x axis, the quantity on
/// the y axis, the training series in blue (#1f77b4) and the validation
/// series in orange (#ff7f0e), each drawn as one stroked path (broken
/// where a value is missing or not drawn), with a legend. Values that are
/// NaN (missing), infinite or beyond +-1e300 are not drawn; a panel with
/// such values says so in its lower left corner, and the same note
/// ("loss: not drawn: 2 infinite or beyond +-1e300") is appended to
/// `notes` if given. Throws std::runtime_error if cairo cannot be loaded
/// or fails, for more than 64 panels or an epoch number that is not
/// finite or beyond +-1e15.
std::string plotCurves(const Curves &curves, bool svg,
                       std::vector<std::string> *notes = nullptr);

} // namespace kiln::driver

#endif // KILN_DRIVER_PLOT_H
