//===- RecurrentKernelTest.cpp - tests of the recurrent kernels -----------===//
//
// kiln_rnn_{fwd,bwd}_{f32,f64} against golden values from an independent
// reference: tests/unit/data/gen_rnn_golden.py writes the Keras formulas out
// step by step in float64 torch code (cross-checked against torch.nn.LSTM /
// nn.GRU where PyTorch has the same cell) and takes every gradient from
// torch autograd. Cases: SimpleRNN (tanh, relu, linear), LSTM, GRU with
// reset_after 1 and 0, go_backwards with and without reverse_output, no
// bias, N = 0, T = 1, T = 40, a final cell state gradient (the c half of
// dfinal_state; the h half zero), masks (right padding,
// gaps, masked first and last steps, a fully masked sample) with and
// without zero_output_for_mask.
//
// Tolerances: |kiln - golden| <= rtol * (1 + |golden|), rtol = 1e-10 for
// the f64 kernels, 1e-4 for the f32 ones (same inputs: the generator rounds
// them to f32). Also: a central finite-difference gradient check of the f64
// backward kernel per cell type (loss reading y and the final states; with
// and without initial states, whose gradient is checked too), results
// independent of the thread count, outputs overwritten, the workspace left
// unchanged by the backward pass, the workspace size formula, and descriptor
// errors that abort.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#ifndef KILN_TEST_DATA_DIR
#error "KILN_TEST_DATA_DIR must name the tests/unit/data directory"
#endif

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ThreadCount {
  explicit ThreadCount(int n) { kiln_set_num_threads(n); }
  ~ThreadCount() { kiln_set_num_threads(0); }
};

/// One case of rnn_golden.txt (format in gen_rnn_golden.py).
struct GoldenCase {
  std::string name;
  kiln_rnn_desc_t desc = {};
  bool hasBias = false, hasDlastCell = false, hasMask = false;
  std::map<std::string, std::vector<double>> arrays;

  const std::vector<double> &at(const std::string &key) const {
    static const std::vector<double> empty;
    auto it = arrays.find(key);
    return it == arrays.end() ? empty : it->second;
  }
};

std::vector<GoldenCase> loadGolden() {
  std::vector<GoldenCase> cases;
  std::ifstream in(std::string(KILN_TEST_DATA_DIR) + "/rnn_golden.txt");
  if (!in)
    return cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "case") {
      GoldenCase c;
      kiln_rnn_desc_t &d = c.desc;
      int hasBias, hasDlast, hasMask;
      words >> c.name >> d.cell >> d.batch >> d.steps >> d.input_size >>
          d.units >> d.activation >> d.recurrent_activation >> d.go_backwards >>
          d.reverse_output >> d.reset_after >> hasBias >> hasDlast >> hasMask >>
          d.zero_output_for_mask;
      c.hasBias = hasBias != 0;
      c.hasDlastCell = hasDlast != 0;
      c.hasMask = hasMask != 0;
      cases.push_back(c);
    } else if (key == "end" || key.empty()) {
      continue;
    } else {
      size_t count;
      words >> count;
      std::vector<double> v(count);
      for (double &e : v) {
        std::string s;
        words >> s;
        e = std::strtod(s.c_str(), nullptr);
      }
      cases.back().arrays[key] = v;
    }
  }
  return cases;
}

const std::vector<GoldenCase> &goldenCases() {
  static const std::vector<GoldenCase> cases = loadGolden();
  return cases;
}

int64_t gateCount(const kiln_rnn_desc_t &d) {
  return d.cell == KILN_RNN_SIMPLE ? 1 : d.cell == KILN_RNN_LSTM ? 4 : 3;
}

/// The kernels' outputs for one case, in double.
struct Outputs {
  std::vector<double> y, lastCell, dx, dkernel, drecurrentKernel, dbias;
};

/// Runs forward and backward in element type T on the case's inputs. Outputs
/// and workspace start as NaN (they must be overwritten); the workspace is
/// checked to be unchanged by the backward pass.
template <typename T> Outputs run(const GoldenCase &c) {
  const kiln_rnn_desc_t &d = c.desc;
  auto conv = [](const std::vector<double> &v) {
    return std::vector<T>(v.begin(), v.end());
  };
  std::vector<T> x = conv(c.at("x")), kernel = conv(c.at("kernel")),
                 rec = conv(c.at("recurrent_kernel")),
                 bias = conv(c.at("bias")), dy = conv(c.at("dy")),
                 dlast = conv(c.at("dlast_cell")), mask = conv(c.at("mask"));
  const int64_t N = d.batch, T_ = d.steps, I = d.input_size, H = d.units;
  const int64_t GH = gateCount(d) * H;
  const bool lstm = d.cell == KILN_RNN_LSTM;
  const int64_t S = lstm ? 2 : 1;
  // final_state [S, N, H]: h, then the LSTM's c (the golden last_cell).
  std::vector<T> y(N * T_ * H, T(kNaN)), finalState(S * N * H, T(kNaN));
  std::vector<T> ws(kiln_rnn_workspace_size(&d), T(kNaN));
  std::vector<T> dx(N * T_ * I, T(kNaN)), dk(I * GH, T(kNaN)),
      drk(H * GH, T(kNaN)), db(bias.size(), T(kNaN));
  const T *biasPtr = c.hasBias ? bias.data() : nullptr;
  const T *maskPtr = c.hasMask ? mask.data() : nullptr;
  // dfinal_state: zero for h, the golden dlast_cell for the LSTM's c.
  std::vector<T> dfinal(S * N * H, T(0));
  if (c.hasDlastCell)
    std::copy(dlast.begin(), dlast.end(), dfinal.begin() + N * H);
  const T *dlastPtr = c.hasDlastCell ? dfinal.data() : nullptr;
  T *dbPtr = c.hasBias ? db.data() : nullptr;
  if constexpr (std::is_same_v<T, float>) {
    kiln_rnn_fwd_f32(&d, x.data(), maskPtr, kernel.data(), rec.data(), biasPtr,
                     nullptr, y.data(), finalState.data(), ws.data());
    std::vector<T> wsBefore = ws;
    kiln_rnn_bwd_f32(&d, x.data(), maskPtr, kernel.data(), rec.data(), y.data(),
                     ws.data(), dy.data(), dlastPtr, dx.data(), dk.data(),
                     drk.data(), dbPtr, nullptr);
    EXPECT_TRUE(ws.empty() || std::memcmp(wsBefore.data(), ws.data(),
                                          ws.size() * sizeof(T)) == 0)
        << "the backward pass changed the workspace";
  } else {
    kiln_rnn_fwd_f64(&d, x.data(), maskPtr, kernel.data(), rec.data(), biasPtr,
                     nullptr, y.data(), finalState.data(), ws.data());
    std::vector<T> wsBefore = ws;
    // y is documented as unread by the backward pass: pass NULL.
    kiln_rnn_bwd_f64(&d, x.data(), maskPtr, kernel.data(), rec.data(), nullptr,
                     ws.data(), dy.data(), dlastPtr, dx.data(), dk.data(),
                     drk.data(), dbPtr, nullptr);
    EXPECT_TRUE(ws.empty() || std::memcmp(wsBefore.data(), ws.data(),
                                          ws.size() * sizeof(T)) == 0)
        << "the backward pass changed the workspace";
  }
  auto back = [](const std::vector<T> &v) {
    return std::vector<double>(v.begin(), v.end());
  };
  std::vector<T> lastCell(lstm ? finalState.begin() + N * H : finalState.end(),
                          finalState.end());
  return {back(y), back(lastCell), back(dx), back(dk), back(drk), back(db)};
}

void expectClose(const std::string &what, const std::vector<double> &got,
                 const std::vector<double> &want, double rtol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t worstAt = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i]));
    if (!(err <= worst)) { // also catches NaN
      worst = err;
      worstAt = i;
    }
  }
  EXPECT_LE(worst, rtol) << what << "[" << worstAt << "] = " << got[worstAt]
                         << ", golden " << want[worstAt];
}

void expectMatchesGolden(const GoldenCase &c, const Outputs &o, double rtol) {
  expectClose("y", o.y, c.at("y"), rtol);
  if (c.desc.cell == KILN_RNN_LSTM)
    expectClose("last_cell", o.lastCell, c.at("last_cell"), rtol);
  expectClose("dx", o.dx, c.at("dx"), rtol);
  expectClose("dkernel", o.dkernel, c.at("dkernel"), rtol);
  expectClose("drecurrent_kernel", o.drecurrentKernel,
              c.at("drecurrent_kernel"), rtol);
  if (c.hasBias)
    expectClose("dbias", o.dbias, c.at("dbias"), rtol);
}

class RnnGolden : public ::testing::TestWithParam<std::string> {
protected:
  const GoldenCase &golden() const {
    for (const GoldenCase &c : goldenCases())
      if (c.name == GetParam())
        return c;
    ADD_FAILURE() << "no golden case " << GetParam();
    return goldenCases().front();
  }
};

std::vector<std::string> goldenNames() {
  std::vector<std::string> names;
  for (const GoldenCase &c : goldenCases())
    names.push_back(c.name);
  return names;
}

TEST(RnnGoldenFile, HasEveryCase) {
  // The parameterized tests below are generated from the file: check that
  // it was found and holds what gen_rnn_golden.py writes.
  ASSERT_EQ(goldenCases().size(), 32u)
      << "tests/unit/data/rnn_golden.txt missing or stale";
  for (const GoldenCase &c : goldenCases()) {
    EXPECT_FALSE(c.at("y").empty() && c.desc.batch > 0) << c.name;
    EXPECT_EQ(c.at("dkernel").size(),
              size_t(c.desc.input_size * gateCount(c.desc) * c.desc.units))
        << c.name;
  }
}

TEST_P(RnnGolden, F64MatchesReference) {
  const GoldenCase &c = golden();
  expectMatchesGolden(c, run<double>(c), 1e-10);
}

TEST_P(RnnGolden, F32MatchesReference) {
  const GoldenCase &c = golden();
  expectMatchesGolden(c, run<float>(c), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Cases, RnnGolden, ::testing::ValuesIn(goldenNames()),
                         [](const ::testing::TestParamInfo<std::string> &i) {
                           return i.param;
                         });

//===----------------------------------------------------------------------===//
// Finite differences
//===----------------------------------------------------------------------===//

/// loss = sum(y * dy) + sum(final_state * dfinal) with the f64 forward
/// kernel, from the initial states s0 (empty: zeros).
struct Problem {
  kiln_rnn_desc_t d;
  std::vector<double> x, kernel, rec, bias, dy, dfinal;
  std::vector<double> mask; ///< [N, T] or empty for no mask
  std::vector<double> s0;   ///< [S, N, H] or empty for zero states

  const double *maskPtr() const { return mask.empty() ? nullptr : mask.data(); }
  const double *s0Ptr() const { return s0.empty() ? nullptr : s0.data(); }

  double loss() const {
    const int64_t N = d.batch, H = d.units;
    std::vector<double> y(N * d.steps * H), states(dfinal.size()),
        ws(kiln_rnn_workspace_size(&d));
    kiln_rnn_fwd_f64(&d, x.data(), maskPtr(), kernel.data(), rec.data(),
                     bias.data(), s0Ptr(), y.data(), states.data(), ws.data());
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i)
      l += y[i] * dy[i];
    for (size_t i = 0; i < states.size(); ++i)
      l += states[i] * dfinal[i];
    return l;
  }
};

Problem randomProblem(kiln_rnn_cell_t cell, int64_t resetAfter,
                      int64_t goBackwards, int64_t reverseOutput,
                      unsigned seed) {
  Problem p;
  p.d = {};
  p.d.cell = cell;
  p.d.batch = 2;
  p.d.steps = 5;
  p.d.input_size = 3;
  p.d.units = 4;
  p.d.activation = KILN_EPILOGUE_TANH;
  p.d.recurrent_activation = KILN_EPILOGUE_SIGMOID;
  p.d.go_backwards = goBackwards;
  p.d.reverse_output = reverseOutput;
  p.d.reset_after = resetAfter;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  auto fill = [&](std::vector<double> &v, int64_t n, double scale) {
    v.resize(n);
    for (double &e : v)
      e = scale * u(rng);
  };
  int64_t N = 2, T = 5, I = 3, H = 4, GH = gateCount(p.d) * H;
  fill(p.x, N * T * I, 1);
  fill(p.kernel, I * GH, 0.6);
  fill(p.rec, H * GH, 0.6);
  fill(p.bias, (cell == KILN_RNN_GRU && resetAfter ? 2 : 1) * GH, 0.6);
  fill(p.dy, N * T * H, 1);
  fill(p.dfinal, (cell == KILN_RNN_LSTM ? 2 : 1) * N * H, 1);
  return p;
}

/// Every analytic gradient of the f64 backward kernel against central
/// differences of the f64 forward kernel (step 1e-6: truncation error
/// O(1e-12) for these smooth cells, rounding O(1e-10)).
void gradCheck(Problem p) {
  const kiln_rnn_desc_t &d = p.d;
  const int64_t N = d.batch, T = d.steps, I = d.input_size, H = d.units;
  const int64_t GH = gateCount(d) * H;
  std::vector<double> y(N * T * H), states(p.dfinal.size()),
      ws(kiln_rnn_workspace_size(&d));
  kiln_rnn_fwd_f64(&d, p.x.data(), p.maskPtr(), p.kernel.data(), p.rec.data(),
                   p.bias.data(), p.s0Ptr(), y.data(), states.data(),
                   ws.data());
  std::vector<double> dx(N * T * I), dk(I * GH), drk(H * GH), db(p.bias.size()),
      ds0(p.dfinal.size());
  kiln_rnn_bwd_f64(&d, p.x.data(), p.maskPtr(), p.kernel.data(), p.rec.data(),
                   y.data(), ws.data(), p.dy.data(), p.dfinal.data(), dx.data(),
                   dk.data(), drk.data(), db.data(), ds0.data());
  struct Param {
    const char *name;
    std::vector<double> *value;
    const std::vector<double> *grad;
  };
  std::vector<Param> params = {{"x", &p.x, &dx},
                               {"kernel", &p.kernel, &dk},
                               {"recurrent_kernel", &p.rec, &drk},
                               {"bias", &p.bias, &db}};
  if (!p.s0.empty())
    params.push_back({"initial_state", &p.s0, &ds0});
  const double h = 1e-6;
  for (const Param &param : params) {
    for (size_t i = 0; i < param.value->size(); ++i) {
      double saved = (*param.value)[i];
      (*param.value)[i] = saved + h;
      double up = p.loss();
      (*param.value)[i] = saved - h;
      double down = p.loss();
      (*param.value)[i] = saved;
      double numeric = (up - down) / (2 * h);
      double analytic = (*param.grad)[i];
      EXPECT_NEAR(analytic, numeric, 1e-7 * (1 + std::fabs(numeric)))
          << param.name << "[" << i << "]";
    }
  }
}

/// The same problem with a mask: sample 0 has masked steps 0, 2 and 4
/// (first, a gap, last), sample 1 is right-padded by one step.
Problem masked(Problem p, int64_t zeroOutput) {
  p.mask = {0, 1, 0, 1, 0, 1, 1, 1, 1, 0};
  p.d.zero_output_for_mask = zeroOutput;
  return p;
}

/// The same problem from random initial states [S, N, H].
Problem withInitialState(Problem p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.9, 0.9);
  p.s0.resize(p.dfinal.size());
  for (double &e : p.s0)
    e = u(rng);
  return p;
}

TEST(RnnGradCheck, InitialStates) {
  gradCheck(withInitialState(randomProblem(KILN_RNN_LSTM, 0, 0, 0, 121), 1));
  gradCheck(withInitialState(randomProblem(KILN_RNN_LSTM, 0, 1, 1, 122), 2));
  gradCheck(withInitialState(randomProblem(KILN_RNN_GRU, 1, 0, 0, 123), 3));
  gradCheck(withInitialState(randomProblem(KILN_RNN_GRU, 0, 1, 0, 124), 4));
  gradCheck(withInitialState(randomProblem(KILN_RNN_SIMPLE, 0, 0, 0, 125), 5));
  gradCheck(withInitialState(
      masked(randomProblem(KILN_RNN_LSTM, 0, 1, 0, 126), 1), 6));
  gradCheck(withInitialState(
      masked(randomProblem(KILN_RNN_GRU, 1, 0, 1, 127), 0), 7));
}

TEST(RnnGradCheck, LstmMasked) {
  gradCheck(masked(randomProblem(KILN_RNN_LSTM, 0, 1, 0, 111), 0));
  gradCheck(masked(randomProblem(KILN_RNN_LSTM, 0, 0, 0, 112), 1));
}

TEST(RnnGradCheck, GruMasked) {
  gradCheck(masked(randomProblem(KILN_RNN_GRU, 1, 1, 1, 113), 1));
  gradCheck(masked(randomProblem(KILN_RNN_GRU, 0, 0, 0, 114), 0));
}

TEST(RnnGradCheck, SimpleMasked) {
  gradCheck(masked(randomProblem(KILN_RNN_SIMPLE, 0, 0, 0, 115), 0));
}

TEST(RnnGradCheck, Lstm) {
  gradCheck(randomProblem(KILN_RNN_LSTM, 0, 1, 0, 101));
}

TEST(RnnGradCheck, GruResetAfter) {
  gradCheck(randomProblem(KILN_RNN_GRU, 1, 0, 1, 102));
}

TEST(RnnGradCheck, GruResetBefore) {
  gradCheck(randomProblem(KILN_RNN_GRU, 0, 1, 1, 103));
}

TEST(RnnGradCheck, Simple) {
  gradCheck(randomProblem(KILN_RNN_SIMPLE, 0, 0, 0, 104));
}

//===----------------------------------------------------------------------===//
// Threads, workspace size, errors
//===----------------------------------------------------------------------===//

/// f32 results of a problem large enough that every GEMM runs in parallel.
std::vector<std::vector<float>> runLarge(const kiln_rnn_desc_t &d) {
  const int64_t N = d.batch, T = d.steps, I = d.input_size, H = d.units;
  const int64_t GH = gateCount(d) * H;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  auto random = [&](int64_t n) {
    std::vector<float> v(n);
    for (float &e : v)
      e = u(rng);
    return v;
  };
  std::vector<float> x = random(N * T * I), k = random(I * GH),
                     rk = random(H * GH), b = random(2 * GH),
                     dy = random(N * T * H);
  std::vector<float> y(N * T * H), ws(kiln_rnn_workspace_size(&d)),
      dx(N * T * I), dk(I * GH), drk(H * GH), db(2 * GH);
  kiln_rnn_fwd_f32(&d, x.data(), nullptr, k.data(), rk.data(), b.data(),
                   nullptr, y.data(), nullptr, ws.data());
  kiln_rnn_bwd_f32(&d, x.data(), nullptr, k.data(), rk.data(), y.data(),
                   ws.data(), dy.data(), nullptr, dx.data(), dk.data(),
                   drk.data(), db.data(), nullptr);
  return {y, dx, dk, drk, db};
}

TEST(RnnKernel, F32ResultsIndependentOfThreadCount) {
  for (int64_t cell : {KILN_RNN_SIMPLE, KILN_RNN_LSTM, KILN_RNN_GRU}) {
    for (int64_t resetAfter : {0, 1}) {
      if (cell != KILN_RNN_GRU && resetAfter == 0)
        continue;
      kiln_rnn_desc_t d = {};
      d.cell = cell;
      d.batch = 64;
      d.steps = 12;
      d.input_size = 48;
      d.units = 96;
      d.activation = KILN_EPILOGUE_TANH;
      d.recurrent_activation = KILN_EPILOGUE_SIGMOID;
      d.go_backwards = 1;
      d.reset_after = resetAfter;
      std::vector<std::vector<float>> one, two, four;
      {
        ThreadCount threads(1);
        one = runLarge(d);
      }
      {
        ThreadCount threads(2);
        two = runLarge(d);
      }
      {
        ThreadCount threads(4);
        four = runLarge(d);
      }
      for (size_t i = 0; i < one.size(); ++i) {
        ASSERT_EQ(one[i].size(), two[i].size());
        EXPECT_EQ(0, std::memcmp(one[i].data(), two[i].data(),
                                 one[i].size() * sizeof(float)))
            << "cell " << cell << " output " << i;
        EXPECT_EQ(0, std::memcmp(one[i].data(), four[i].data(),
                                 one[i].size() * sizeof(float)))
            << "cell " << cell << " output " << i;
      }
    }
  }
}

TEST(RnnKernel, WorkspaceSizeFormula) {
  kiln_rnn_desc_t d = {};
  d.batch = 3;
  d.steps = 7;
  d.input_size = 5;
  d.units = 11;
  d.activation = KILN_EPILOGUE_TANH;
  d.recurrent_activation = KILN_EPILOGUE_SIGMOID;
  const int64_t NTH = 3 * 7 * 11, NH = 3 * 11;
  d.cell = KILN_RNN_SIMPLE;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 2 * NTH);
  d.cell = KILN_RNN_LSTM;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 7 * NTH);
  d.cell = KILN_RNN_GRU;
  d.reset_after = 1;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 5 * NTH + 3 * NH);
  d.reset_after = 0;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 5 * NTH);
  // Independent of the direction flags; zero for an empty batch.
  d.go_backwards = d.reverse_output = 1;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 5 * NTH);
  d.batch = 0;
  EXPECT_EQ(kiln_rnn_workspace_size(&d), 0);
}

TEST(RnnKernel, EmptyBatchZeroesWeightGradients) {
  kiln_rnn_desc_t d = {};
  d.cell = KILN_RNN_GRU;
  d.batch = 0;
  d.steps = 3;
  d.input_size = 2;
  d.units = 2;
  d.activation = KILN_EPILOGUE_TANH;
  d.recurrent_activation = KILN_EPILOGUE_SIGMOID;
  d.reset_after = 1;
  std::vector<double> k(12, 1), rk(12, 1), b(12, 1);
  std::vector<double> dk(12, kNaN), drk(12, kNaN), db(12, kNaN);
  kiln_rnn_fwd_f64(&d, nullptr, nullptr, k.data(), rk.data(), b.data(), nullptr,
                   nullptr, nullptr, nullptr);
  kiln_rnn_bwd_f64(&d, nullptr, nullptr, k.data(), rk.data(), nullptr, nullptr,
                   nullptr, nullptr, nullptr, dk.data(), drk.data(), db.data(),
                   nullptr);
  EXPECT_EQ(dk, std::vector<double>(12, 0));
  EXPECT_EQ(drk, std::vector<double>(12, 0));
  EXPECT_EQ(db, std::vector<double>(12, 0));
}

TEST(RnnKernelDeathTest, BadDescriptorAborts) {
  kiln_rnn_desc_t good = {};
  good.cell = KILN_RNN_LSTM;
  good.batch = 1;
  good.steps = 2;
  good.input_size = 2;
  good.units = 2;
  good.activation = KILN_EPILOGUE_TANH;
  good.recurrent_activation = KILN_EPILOGUE_SIGMOID;
  EXPECT_GT(kiln_rnn_workspace_size(&good), 0);
  auto size = [](kiln_rnn_desc_t d) { return kiln_rnn_workspace_size(&d); };
  kiln_rnn_desc_t d = good;
  d.cell = 3;
  EXPECT_DEATH(size(d), "kiln_rnn_workspace_size: invalid argument: cell = 3");
  d = good;
  d.steps = 0;
  EXPECT_DEATH(size(d), "steps = 0");
  d = good;
  d.batch = -1;
  EXPECT_DEATH(size(d), "batch = -1 is negative");
  d = good;
  d.activation = 4;
  EXPECT_DEATH(size(d), "activation = 4");
  d = good;
  d.recurrent_activation = -1;
  EXPECT_DEATH(size(d), "recurrent_activation = -1");
  d = good;
  d.go_backwards = 2;
  EXPECT_DEATH(size(d), "go_backwards = 2");
  d = good;
  d.reset_after = 5;
  EXPECT_DEATH(size(d), "reset_after = 5");
  d = good;
  d.zero_output_for_mask = 2;
  EXPECT_DEATH(size(d), "zero_output_for_mask = 2");
  d = good;
  d.reserved[1] = 1;
  EXPECT_DEATH(size(d), "reserved fields must be 0");
  d = good;
  d.units = int64_t(1) << 40;
  d.steps = int64_t(1) << 30;
  EXPECT_DEATH(size(d), "overflow");

  std::vector<float> buf(1024);
  d = good;
  EXPECT_DEATH(kiln_rnn_fwd_f32(&d, buf.data(), nullptr, buf.data(), buf.data(),
                                nullptr, nullptr, buf.data(), nullptr, nullptr),
               "workspace is NULL");
  EXPECT_DEATH(kiln_rnn_bwd_f32(&d, buf.data(), nullptr, buf.data(), nullptr,
                                nullptr, buf.data(), buf.data(), nullptr,
                                buf.data(), buf.data(), buf.data(), nullptr,
                                nullptr),
               "kiln_rnn_bwd_f32: .*recurrent_kernel is NULL");
}

} // namespace
