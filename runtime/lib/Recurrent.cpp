//===- Recurrent.cpp - whole-sequence recurrent kernels ---------*- C++ -*-===//
//
// kiln_rnn_{fwd,bwd}_{f32,f64}: SimpleRNN, LSTM and GRU layers (Keras 3
// semantics, batch-major x [N, T, I]) over a whole sequence in one call.
//
// Forward:
//   1. the input projections of all T steps are one GEMM,
//      gates[N*T, G*H] = x[N*T, I] * kernel[I, G*H] + input bias,
//      into the workspace (row n*T + t holds the step that reads x[n, t]);
//   2. the time loop: per step one [N, H] x [H, G*H] GEMM adds h_prev * U to
//      that step's rows (GRU with reset_after=0: two, [N,H]x[H,2H] then
//      (r*h_prev)[N,H]x[H,H], since the second depends on r), then the gate
//      activations run in place through the GEMM's epilogues (kiln_gemm with
//      K = 0, so the activations are exactly the GEMM's) and the cell update
//      is plain loops. The activated gates, h_prev, and (LSTM) c_prev and
//      act(c) of every step stay in the workspace for the backward pass.
//
// Backward: the reverse time loop turns dy into the pre-activation gate
// gradients of every step (a per-thread scratch buffer: the workspace is
// read-only there); the gradient flowing into h_prev is one GEMM per step
// (dgates * U^T). After the loop, dx = dgates * kernel^T, dkernel =
// x^T * dgates and drecurrent_kernel = h_prev_all^T * dgates are single GEMMs
// over all N*T rows.
//
// Every step is computed in a fixed order and the GEMMs are bitwise
// independent of the thread count, so are the results.
//
//===----------------------------------------------------------------------===//

#include "Fatal.h"
#include "kiln/runtime.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using kiln::runtime::fatal;

/// a * b, aborting (as a caller bug) if it overflows int64_t.
int64_t checkedMul(const char *function, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    fatal(function, "the tensor sizes overflow int64_t");
  return r;
}

/// A validated kiln_rnn_desc_t, its derived sizes and the workspace layout
/// (offsets in elements; see the header comment of kiln_rnn_workspace_size).
struct Rnn {
  int cell;
  int64_t N, T, I, H;
  int64_t G;  ///< gates: 1, 4 or 3
  int64_t GH; ///< G * H
  int64_t P;  ///< N * T rows
  int32_t act, ract;
  bool backwards, reverseOutput, resetAfter;
  bool zeroOutputForMask;   ///< masked steps write y = 0, not the carried h
  bool gruAfter, gruBefore; ///< GRU with reset_after = 1 / 0
  // Workspace sections.
  int64_t gates;  ///< [P, GH]: the activated gates of every step
  int64_t hPrev;  ///< [P, H]: h_prev of every step
  int64_t cPrev;  ///< LSTM [P, H]: c_prev of every step
  int64_t actC;   ///< LSTM [P, H]: act(c) of every step
  int64_t aux;    ///< GRU [P, H]: hz_h (reset_after=1) or r*h_prev (=0)
  int64_t stepHz; ///< GRU reset_after=1 [N, 3H]: h_prev U + b_rec of a step
  int64_t size;   ///< total elements

  /// The time index of x (and of the workspace rows) step s reads.
  int64_t xIndex(int64_t s) const { return backwards ? T - 1 - s : s; }
  /// The time index of y step s writes.
  int64_t yIndex(int64_t s) const { return reverseOutput ? T - 1 - s : s; }
};

bool validActivation(int64_t a) {
  return a >= KILN_EPILOGUE_NONE && a <= KILN_EPILOGUE_TANH;
}

Rnn plan(const char *function, const kiln_rnn_desc_t *d) {
  if (!d)
    fatal(function, "descriptor is NULL");
  Rnn r;
  if (d->cell != KILN_RNN_SIMPLE && d->cell != KILN_RNN_LSTM &&
      d->cell != KILN_RNN_GRU)
    fatal(function, "cell = %" PRId64 " is not 0 (simple), 1 (LSTM), 2 (GRU)",
          d->cell);
  r.cell = static_cast<int>(d->cell);
  r.N = d->batch;
  r.T = d->steps;
  r.I = d->input_size;
  r.H = d->units;
  if (r.N < 0)
    fatal(function, "batch = %" PRId64 " is negative", r.N);
  if (r.T < 1 || r.I < 1 || r.H < 1)
    fatal(function,
          "steps = %" PRId64 ", input_size = %" PRId64 ", units = %" PRId64
          " must be >= 1",
          r.T, r.I, r.H);
  if (!validActivation(d->activation))
    fatal(function, "activation = %" PRId64 " is not a kiln_epilogue_t",
          d->activation);
  // SimpleRNN ignores recurrent_activation (any value is accepted).
  if (r.cell != KILN_RNN_SIMPLE && !validActivation(d->recurrent_activation))
    fatal(function,
          "recurrent_activation = %" PRId64 " is not a kiln_epilogue_t",
          d->recurrent_activation);
  if (d->go_backwards != 0 && d->go_backwards != 1)
    fatal(function, "go_backwards = %" PRId64 " is not 0 or 1",
          d->go_backwards);
  if (d->reverse_output != 0 && d->reverse_output != 1)
    fatal(function, "reverse_output = %" PRId64 " is not 0 or 1",
          d->reverse_output);
  if (d->reset_after != 0 && d->reset_after != 1)
    fatal(function, "reset_after = %" PRId64 " is not 0 or 1", d->reset_after);
  if (d->zero_output_for_mask != 0 && d->zero_output_for_mask != 1)
    fatal(function, "zero_output_for_mask = %" PRId64 " is not 0 or 1",
          d->zero_output_for_mask);
  for (int64_t v : d->reserved)
    if (v != 0)
      fatal(function, "reserved fields must be 0");
  r.act = static_cast<int32_t>(d->activation);
  r.ract = static_cast<int32_t>(d->recurrent_activation);
  r.backwards = d->go_backwards != 0;
  r.reverseOutput = d->reverse_output != 0;
  r.resetAfter = d->reset_after != 0;
  r.zeroOutputForMask = d->zero_output_for_mask != 0;
  r.gruAfter = r.cell == KILN_RNN_GRU && r.resetAfter;
  r.gruBefore = r.cell == KILN_RNN_GRU && !r.resetAfter;
  r.G = r.cell == KILN_RNN_SIMPLE ? 1 : r.cell == KILN_RNN_LSTM ? 4 : 3;
  r.GH = checkedMul(function, r.G, r.H);
  r.P = checkedMul(function, r.N, r.T);
  // Also guards every product below: P * (GH + 3H) bounds them all.
  checkedMul(function, r.P + 1, checkedMul(function, r.H, 8));
  checkedMul(function, r.P + 1, r.I);

  int64_t PH = r.P * r.H;
  r.gates = 0;
  r.hPrev = r.P * r.GH;
  int64_t end = r.hPrev + PH;
  r.cPrev = r.actC = r.aux = r.stepHz = end;
  if (r.cell == KILN_RNN_LSTM) {
    r.cPrev = end;
    r.actC = end + PH;
    end += 2 * PH;
  } else if (r.cell == KILN_RNN_GRU) {
    r.aux = end;
    end += PH;
    if (r.gruAfter) {
      r.stepHz = end;
      end += r.N * r.GH;
    }
  }
  r.size = end;
  return r;
}

inline void gemm(int64_t M, int64_t N, int64_t K, int32_t ta, int32_t tb,
                 const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc, const float *bias,
                 int32_t epilogue) {
  kiln_gemm_f32(M, N, K, ta, tb, 1.0f, A, lda, B, ldb, beta, C, ldc, bias,
                epilogue);
}

inline void gemm(int64_t M, int64_t N, int64_t K, int32_t ta, int32_t tb,
                 const double *A, int64_t lda, const double *B, int64_t ldb,
                 double beta, double *C, int64_t ldc, const double *bias,
                 int32_t epilogue) {
  kiln_gemm_f64(M, N, K, ta, tb, 1.0, A, lda, B, ldb, beta, C, ldc, bias,
                epilogue);
}

/// Applies `activation` in place to a rows x cols block with leading
/// dimension ld, through the GEMM's epilogue (K = 0, beta = 1).
template <typename T>
void activate(T *c, int64_t rows, int64_t cols, int64_t ld,
              int32_t activation) {
  if (activation == KILN_EPILOGUE_NONE)
    return;
  gemm(rows, cols, 0, 0, 0, static_cast<const T *>(nullptr), 1,
       static_cast<const T *>(nullptr), cols, T(1), c, ld, nullptr, activation);
}

/// g[j] *= activation'(z[j]) for j < n, the derivative written in terms of
/// the activation's output y[j] = activation(z[j]): relu' = (y > 0),
/// sigmoid' = y (1 - y), tanh' = 1 - y^2, linear' = 1.
template <typename T>
void mulActivationGrad(int32_t activation, const T *y, T *g, int64_t n) {
  switch (activation) {
  case KILN_EPILOGUE_RELU:
    for (int64_t j = 0; j < n; ++j)
      g[j] = y[j] > T(0) ? g[j] : T(0);
    return;
  case KILN_EPILOGUE_SIGMOID:
    for (int64_t j = 0; j < n; ++j)
      g[j] *= y[j] * (T(1) - y[j]);
    return;
  case KILN_EPILOGUE_TANH:
    for (int64_t j = 0; j < n; ++j)
      g[j] *= T(1) - y[j] * y[j];
    return;
  default:
    return;
  }
}

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

template <typename T>
void forward(const char *function, const kiln_rnn_desc_t *d, const T *x,
             const T *mask, const T *kernel, const T *recurrentKernel,
             const T *bias, const T *initialState, T *y, T *finalState,
             T *workspace) {
  Rnn r = plan(function, d);
  if (!kernel || !recurrentKernel)
    fatal(function, "%s is NULL", !kernel ? "kernel" : "recurrent_kernel");
  if (r.N == 0)
    return;
  if (!x || !y || !workspace)
    fatal(function, "%s is NULL with batch > 0",
          !x   ? "x"
          : !y ? "y"
               : "workspace");

  const int64_t N = r.N, T_ = r.T, H = r.H, GH = r.GH;
  const int64_t ldG = T_ * GH; // between batch rows of one step's gates
  const int64_t ldH = T_ * H;  // between batch rows of one step's [N, H]
  T *gates = workspace + r.gates;
  T *hPrev = workspace + r.hPrev;
  // The final states [S, N, H]: h, then (LSTM) c.
  T *finalH = finalState;
  T *finalC =
      finalState && r.cell == KILN_RNN_LSTM ? finalState + N * H : nullptr;

  // 1. All input projections: gates = x * kernel + input bias.
  gemm(r.P, GH, r.I, 0, 0, x, r.I, kernel, GH, T(0), gates, GH, bias,
       KILN_EPILOGUE_NONE);
  const T *recBias = r.gruAfter && bias ? bias + GH : nullptr;

  // h0 (and c0): the initial states [S, N, H], or zeros.
  for (int64_t n = 0; n < N; ++n) {
    T *h0 = hPrev + n * ldH + r.xIndex(0) * H;
    if (initialState)
      std::copy_n(initialState + n * H, H, h0);
    else
      std::fill_n(h0, H, T(0));
    if (r.cell == KILN_RNN_LSTM) {
      T *c0 = workspace + r.cPrev + n * ldH + r.xIndex(0) * H;
      if (initialState)
        std::copy_n(initialState + (N + n) * H, H, c0);
      else
        std::fill_n(c0, H, T(0));
    }
  }

  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = r.xIndex(s);
    const bool last = s + 1 == T_;
    const int64_t tNext = last ? 0 : r.xIndex(s + 1);
    T *g = gates + t * GH;
    const T *hp = hPrev + t * H;
    T *out = y + r.yIndex(s) * H;
    // The recurrent product's depth: 0 at the first step from zero states
    // (h_prev = 0).
    const int64_t K = s == 0 && !initialState ? 0 : H;

    switch (r.cell) {
    case KILN_RNN_SIMPLE:
      // h = act(x W + b + h_prev U), all in the GEMM.
      gemm(N, H, K, 0, 0, hp, ldH, recurrentKernel, H, T(1), g, ldG, nullptr,
           r.act);
      for (int64_t n = 0; n < N; ++n) {
        const T *h = g + n * ldG;
        std::copy_n(h, H, out + n * ldH);
        if (!last)
          std::copy_n(h, H, hPrev + n * ldH + tNext * H);
        else if (finalH)
          std::copy_n(h, H, finalH + n * H);
      }
      break;

    case KILN_RNN_LSTM: {
      gemm(N, GH, K, 0, 0, hp, ldH, recurrentKernel, GH, T(1), g, ldG, nullptr,
           KILN_EPILOGUE_NONE);
      activate(g, N, 2 * H, ldG, r.ract);     // i, f
      activate(g + 2 * H, N, H, ldG, r.act);  // c candidate
      activate(g + 3 * H, N, H, ldG, r.ract); // o
      T *cPrev = workspace + r.cPrev;
      T *actC = workspace + r.actC + t * H;
      // c = f * c_prev + i * g, into actC (activated below) and on to the
      // next step's c_prev or last_cell.
      for (int64_t n = 0; n < N; ++n) {
        const T *gi = g + n * ldG, *gf = gi + H, *gg = gi + 2 * H;
        const T *cp = cPrev + n * ldH + t * H;
        T *c = actC + n * ldH;
        for (int64_t j = 0; j < H; ++j)
          c[j] = gf[j] * cp[j] + gi[j] * gg[j];
        if (!last)
          std::copy_n(c, H, cPrev + n * ldH + tNext * H);
        else if (finalC)
          std::copy_n(c, H, finalC + n * H);
      }
      activate(actC, N, H, ldH, r.act);
      // h = o * act(c).
      for (int64_t n = 0; n < N; ++n) {
        const T *go = g + n * ldG + 3 * H, *ac = actC + n * ldH;
        T *h = out + n * ldH;
        for (int64_t j = 0; j < H; ++j)
          h[j] = go[j] * ac[j];
        if (!last)
          std::copy_n(h, H, hPrev + n * ldH + tNext * H);
        else if (finalH)
          std::copy_n(h, H, finalH + n * H);
      }
      break;
    }

    case KILN_RNN_GRU: {
      T *aux = workspace + r.aux + t * H;
      if (r.resetAfter) {
        // hz = h_prev U + b_rec (per step, [N, 3H]).
        T *hz = workspace + r.stepHz;
        gemm(N, GH, K, 0, 0, hp, ldH, recurrentKernel, GH, T(0), hz, GH,
             recBias, KILN_EPILOGUE_NONE);
        for (int64_t n = 0; n < N; ++n) {
          T *gz = g + n * ldG;
          const T *hzn = hz + n * GH;
          for (int64_t j = 0; j < 2 * H; ++j)
            gz[j] += hzn[j];
        }
        activate(g, N, 2 * H, ldG, r.ract); // z, r
        // hh = act(xz_h + r * hz_h); hz_h is kept for the backward pass.
        for (int64_t n = 0; n < N; ++n) {
          T *gn = g + n * ldG;
          const T *gr = gn + H, *hzh = hz + n * GH + 2 * H;
          T *gh = gn + 2 * H;
          std::copy_n(hzh, H, aux + n * ldH);
          for (int64_t j = 0; j < H; ++j)
            gh[j] += gr[j] * hzh[j];
        }
        activate(g + 2 * H, N, H, ldG, r.act);
      } else {
        // z, r = ra(x W + b + h_prev U_zr), fused in the GEMM.
        gemm(N, 2 * H, K, 0, 0, hp, ldH, recurrentKernel, GH, T(1), g, ldG,
             nullptr, r.ract);
        // rh = r * h_prev (kept for the backward pass), then
        // hh = act(x W_h + b_h + rh U_h).
        for (int64_t n = 0; n < N; ++n) {
          const T *gr = g + n * ldG + H, *hpn = hp + n * ldH;
          T *rh = aux + n * ldH;
          for (int64_t j = 0; j < H; ++j)
            rh[j] = gr[j] * hpn[j];
        }
        gemm(N, H, K, 0, 0, aux, ldH, recurrentKernel + 2 * H, GH, T(1),
             g + 2 * H, ldG, nullptr, r.act);
      }
      // h = z * h_prev + (1 - z) * hh.
      for (int64_t n = 0; n < N; ++n) {
        const T *gz = g + n * ldG, *gh = gz + 2 * H, *hpn = hp + n * ldH;
        T *h = out + n * ldH;
        for (int64_t j = 0; j < H; ++j)
          h[j] = gz[j] * hpn[j] + (T(1) - gz[j]) * gh[j];
        if (!last)
          std::copy_n(h, H, hPrev + n * ldH + tNext * H);
        else if (finalH)
          std::copy_n(h, H, finalH + n * H);
      }
      break;
    }
    }

    // Masked samples (Keras' backend rnn): the states carry over and y is
    // the carried h (or zeros). The cell ran on them above; its results
    // are replaced here, and the backward pass ignores their gates.
    if (!mask)
      continue;
    for (int64_t n = 0; n < N; ++n) {
      if (mask[n * T_ + t] != T(0))
        continue;
      const T *hpn = hp + n * ldH;
      T *o = out + n * ldH;
      if (r.zeroOutputForMask)
        std::fill_n(o, H, T(0));
      else
        std::copy_n(hpn, H, o);
      if (!last)
        std::copy_n(hpn, H, hPrev + n * ldH + tNext * H);
      else if (finalH)
        std::copy_n(hpn, H, finalH + n * H);
      if (r.cell == KILN_RNN_LSTM) {
        const T *cpn = workspace + r.cPrev + n * ldH + t * H;
        if (!last)
          std::copy_n(cpn, H, workspace + r.cPrev + n * ldH + tNext * H);
        else if (finalC)
          std::copy_n(cpn, H, finalC + n * H);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Backward
//===----------------------------------------------------------------------===//

/// The calling thread's scratch for the backward pass, grown on demand and
/// freed at thread exit.
template <typename T> T *scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < count)
    buffer.resize(count);
  return buffer.data();
}

template <typename T>
void backward(const char *function, const kiln_rnn_desc_t *d, const T *x,
              const T *mask, const T *kernel, const T *recurrentKernel,
              const T *y, const T *workspace, const T *dy, const T *dfinalState,
              T *dx, T *dkernel, T *drecurrentKernel, T *dbias,
              T *dinitialState) {
  Rnn r = plan(function, d);
  (void)y; // Everything the gradients need is in the workspace.
  if (!kernel || !recurrentKernel || !dkernel || !drecurrentKernel)
    fatal(function, "%s is NULL",
          !kernel            ? "kernel"
          : !recurrentKernel ? "recurrent_kernel"
          : !dkernel         ? "dkernel"
                             : "drecurrent_kernel");
  const int64_t N = r.N, T_ = r.T, H = r.H, GH = r.GH, I = r.I;
  const int64_t biasSize = r.gruAfter ? 2 * GH : GH;
  if (r.N == 0) {
    std::fill_n(dkernel, I * GH, T(0));
    std::fill_n(drecurrentKernel, H * GH, T(0));
    if (dbias)
      std::fill_n(dbias, biasSize, T(0));
    return;
  }
  if (!x || !workspace || !dy || !dx)
    fatal(function, "%s is NULL with batch > 0",
          !x           ? "x"
          : !workspace ? "workspace"
          : !dy        ? "dy"
                       : "dx");

  const int64_t ldG = T_ * GH, ldH = T_ * H;
  const T *gates = workspace + r.gates;
  const T *hPrev = workspace + r.hPrev;
  const T *U = recurrentKernel;

  // Scratch: dgates [P, GH] (gradients of the pre-activations, input side),
  // GRU: dAux [P, H] (reset_after=1: of hz_h), recurrent-side gradients of
  // a step [N, GH] (reset_after=1) or d(r*h_prev) [N, H] (reset_after=0);
  // dh, dhNext, row [N, H]; LSTM: dc [N, H].
  const int64_t PH = r.P * H, NH = N * H;
  int64_t need = r.P * GH + 3 * NH;
  if (r.cell == KILN_RNN_LSTM)
    need += NH;
  if (r.cell == KILN_RNN_GRU)
    need += PH + (r.gruAfter ? N * GH : NH);
  if (mask)
    need += NH; // carry: dh of the masked samples, passed to h_prev
  T *dgates = scratch<T>(need);
  T *dh = dgates + r.P * GH, *dhNext = dh + NH, *tmp = dhNext + NH;
  T *rest = tmp + NH;
  T *dc = nullptr, *dAux = nullptr, *stepRec = nullptr;
  if (r.cell == KILN_RNN_LSTM) {
    dc = rest;
    rest += NH;
  } else if (r.cell == KILN_RNN_GRU) {
    dAux = rest;
    stepRec = rest + PH;
    rest += PH + (r.gruAfter ? N * GH : NH);
  }
  T *carry = rest;
  // Whether sample n is masked at x's time index t.
  auto masked = [&](int64_t n, int64_t t) {
    return mask && mask[n * T_ + t] == T(0);
  };
  // dy of step s into dst [N, H]; zeros for samples whose masked step
  // wrote zeros.
  auto loadDy = [&](int64_t s, T *dst) {
    for (int64_t n = 0; n < N; ++n) {
      if (r.zeroOutputForMask && masked(n, r.xIndex(s)))
        std::fill_n(dst + n * H, H, T(0));
      else
        std::copy_n(dy + n * ldH + r.yIndex(s) * H, H, dst + n * H);
    }
  };

  // dh of the last step: its dy plus the final h's gradient (LSTM: dc
  // starts as the final c's gradient).
  loadDy(T_ - 1, dh);
  if (dfinalState)
    for (int64_t j = 0; j < NH; ++j)
      dh[j] += dfinalState[j];
  if (dc) {
    if (dfinalState)
      std::copy_n(dfinalState + NH, NH, dc);
    else
      std::fill_n(dc, NH, T(0));
  }

  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = r.xIndex(s);
    const bool first = s == 0;
    // Whether the gradient reaching h_prev is needed: always but at the
    // first step, where it is the initial state's.
    const bool needPrev = !first || dinitialState;
    const T *g = gates + t * GH;
    const T *hp = hPrev + t * H;
    T *dg = dgates + t * GH;
    // dhNext starts as dy of the previous step (zero before the first);
    // the terms through h_prev are added below.
    if (!first)
      loadDy(s - 1, dhNext);
    else if (needPrev)
      std::fill_n(dhNext, NH, T(0));
    // A masked sample's dh (and LSTM dc) passes to h_prev unchanged and its
    // gates get none: its dh row is set aside and zeroed, which zeroes
    // every gate gradient below (LSTM skips the sample's dc update).
    if (mask)
      for (int64_t n = 0; n < N; ++n) {
        if (!masked(n, t))
          continue;
        std::copy_n(dh + n * H, H, carry + n * H);
        std::fill_n(dh + n * H, H, T(0));
      }

    switch (r.cell) {
    case KILN_RNN_SIMPLE:
      for (int64_t n = 0; n < N; ++n) {
        T *dgn = dg + n * ldG;
        std::copy_n(dh + n * H, H, dgn);
        mulActivationGrad(r.act, g + n * ldG, dgn, H);
      }
      break;

    case KILN_RNN_LSTM: {
      const T *actC = workspace + r.actC + t * H;
      const T *cPrev = workspace + r.cPrev + t * H;
      for (int64_t n = 0; n < N; ++n) {
        if (masked(n, t)) {
          std::fill_n(dg + n * ldG, GH, T(0));
          continue;
        }
        const T *gi = g + n * ldG, *gf = gi + H, *gg = gi + 2 * H,
                *go = gi + 3 * H;
        const T *ac = actC + n * ldH, *cp = cPrev + n * ldH, *dhn = dh + n * H;
        T *di = dg + n * ldG, *df = di + H, *dgg = di + 2 * H, *dO = di + 3 * H;
        T *dcn = dc + n * H, *row = tmp + n * H;
        // dc += dh * o * act'(c); do = dh * act(c).
        for (int64_t j = 0; j < H; ++j) {
          row[j] = dhn[j] * go[j];
          dO[j] = dhn[j] * ac[j];
        }
        mulActivationGrad(r.act, ac, row, H);
        for (int64_t j = 0; j < H; ++j) {
          T dct = dcn[j] + row[j];
          di[j] = dct * gg[j];
          df[j] = dct * cp[j];
          dgg[j] = dct * gi[j];
          dcn[j] = dct * gf[j]; // on to c_prev
        }
        mulActivationGrad(r.ract, gi, di, H);
        mulActivationGrad(r.ract, gf, df, H);
        mulActivationGrad(r.act, gg, dgg, H);
        mulActivationGrad(r.ract, go, dO, H);
      }
      break;
    }

    case KILN_RNN_GRU: {
      const T *aux = workspace + r.aux + t * H;
      T *dAuxT = dAux + t * H;
      // dz = dh (h_prev - hh) ra'(z), dhh = dh (1 - z) act'(hh); the direct
      // term dh * z goes to dhNext.
      for (int64_t n = 0; n < N; ++n) {
        const T *gz = g + n * ldG, *gh = gz + 2 * H, *hpn = hp + n * ldH;
        const T *dhn = dh + n * H;
        T *dz = dg + n * ldG, *dhh = dz + 2 * H, *dhp = dhNext + n * H;
        for (int64_t j = 0; j < H; ++j) {
          dz[j] = dhn[j] * (hpn[j] - gh[j]);
          dhh[j] = dhn[j] * (T(1) - gz[j]);
        }
        if (needPrev)
          for (int64_t j = 0; j < H; ++j)
            dhp[j] += dhn[j] * gz[j];
        mulActivationGrad(r.ract, gz, dz, H);
        mulActivationGrad(r.act, gh, dhh, H);
      }
      if (r.resetAfter) {
        // hh_pre = xz_h + r * hz_h: dhz_h = dhh r, dr = dhh hz_h ra'(r).
        // The step's recurrent-side gradients [dz, dr, dhz_h] feed h_prev.
        for (int64_t n = 0; n < N; ++n) {
          const T *gr = g + n * ldG + H, *hzh = aux + n * ldH;
          T *dz = dg + n * ldG, *dr = dz + H, *dhh = dz + 2 * H;
          T *dhz = dAuxT + n * ldH;
          for (int64_t j = 0; j < H; ++j) {
            dhz[j] = dhh[j] * gr[j];
            dr[j] = dhh[j] * hzh[j];
          }
          mulActivationGrad(r.ract, gr, dr, H);
          T *rec = stepRec + n * GH;
          std::copy_n(dz, 2 * H, rec);
          std::copy_n(dhz, H, rec + 2 * H);
        }
        if (needPrev)
          gemm(N, H, GH, 0, 1, stepRec, GH, U, GH, T(1), dhNext, H, nullptr,
               KILN_EPILOGUE_NONE);
      } else {
        // hh_pre = xz_h + (r h_prev) U_h: d(r h_prev) = dhh U_h^T, then
        // dr = d(rh) h_prev ra'(r) and d(rh) r goes to dhNext.
        T *drh = stepRec;
        gemm(N, H, H, 0, 1, dg + 2 * H, ldG, U + 2 * H, GH, T(0), drh, H,
             nullptr, KILN_EPILOGUE_NONE);
        for (int64_t n = 0; n < N; ++n) {
          const T *gr = g + n * ldG + H, *hpn = hp + n * ldH;
          const T *drhn = drh + n * H;
          T *dr = dg + n * ldG + H, *dhp = dhNext + n * H;
          for (int64_t j = 0; j < H; ++j)
            dr[j] = drhn[j] * hpn[j];
          mulActivationGrad(r.ract, gr, dr, H);
          if (needPrev)
            for (int64_t j = 0; j < H; ++j)
              dhp[j] += drhn[j] * gr[j];
        }
        if (needPrev)
          gemm(N, H, 2 * H, 0, 1, dg, ldG, U, GH, T(1), dhNext, H, nullptr,
               KILN_EPILOGUE_NONE);
      }
      break;
    }
    }

    if (needPrev) {
      if (r.cell != KILN_RNN_GRU)
        gemm(N, H, GH, 0, 1, dg, ldG, U, GH, T(1), dhNext, H, nullptr,
             KILN_EPILOGUE_NONE);
      if (mask)
        for (int64_t n = 0; n < N; ++n) {
          if (!masked(n, t))
            continue;
          T *dst = dhNext + n * H;
          const T *src = carry + n * H;
          for (int64_t j = 0; j < H; ++j)
            dst[j] += src[j];
        }
      std::swap(dh, dhNext);
    }
  }
  // The initial states' gradients: dh (swapped in at the first step) and
  // the LSTM's dc, both past the first step.
  if (dinitialState) {
    std::copy_n(dh, NH, dinitialState);
    if (dc)
      std::copy_n(dc, NH, dinitialState + NH);
  }

  // Weight and input gradients over all N*T rows at once.
  gemm(r.P, I, GH, 0, 1, dgates, GH, kernel, GH, T(0), dx, I, nullptr,
       KILN_EPILOGUE_NONE);
  gemm(I, GH, r.P, 1, 0, x, I, dgates, GH, T(0), dkernel, GH, nullptr,
       KILN_EPILOGUE_NONE);
  if (r.cell == KILN_RNN_GRU) {
    gemm(H, 2 * H, r.P, 1, 0, hPrev, H, dgates, GH, T(0), drecurrentKernel, GH,
         nullptr, KILN_EPILOGUE_NONE);
    // Column block h: hz_h's gradient against h_prev (reset_after=1), or
    // the h gate's against r*h_prev (reset_after=0).
    const T *a = r.resetAfter ? hPrev : workspace + r.aux;
    const T *b = r.resetAfter ? dAux : dgates + 2 * H;
    gemm(H, H, r.P, 1, 0, a, H, b, r.resetAfter ? H : GH, T(0),
         drecurrentKernel + 2 * H, GH, nullptr, KILN_EPILOGUE_NONE);
  } else {
    gemm(H, GH, r.P, 1, 0, hPrev, H, dgates, GH, T(0), drecurrentKernel, GH,
         nullptr, KILN_EPILOGUE_NONE);
  }
  if (dbias) {
    // Column sums over the rows in order.
    std::fill_n(dbias, biasSize, T(0));
    for (int64_t p = 0; p < r.P; ++p) {
      const T *row = dgates + p * GH;
      for (int64_t j = 0; j < GH; ++j)
        dbias[j] += row[j];
    }
    if (r.gruAfter) {
      T *rec = dbias + GH;
      for (int64_t p = 0; p < r.P; ++p) {
        const T *row = dgates + p * GH, *aux = dAux + p * H;
        for (int64_t j = 0; j < 2 * H; ++j)
          rec[j] += row[j];
        for (int64_t j = 0; j < H; ++j)
          rec[2 * H + j] += aux[j];
      }
    }
  }
}

} // namespace

extern "C" int64_t kiln_rnn_workspace_size(const kiln_rnn_desc_t *d) {
  return plan("kiln_rnn_workspace_size", d).size;
}

#define KILN_RNN_ENTRY_POINTS(T, SUFFIX)                                       \
  extern "C" void kiln_rnn_fwd_##SUFFIX(                                       \
      const kiln_rnn_desc_t *d, const T *x, const T *mask, const T *kernel,    \
      const T *recurrent_kernel, const T *bias, const T *initial_state, T *y,  \
      T *final_state, T *workspace) {                                          \
    forward<T>("kiln_rnn_fwd_" #SUFFIX, d, x, mask, kernel, recurrent_kernel,  \
               bias, initial_state, y, final_state, workspace);                \
  }                                                                            \
  extern "C" void kiln_rnn_bwd_##SUFFIX(                                       \
      const kiln_rnn_desc_t *d, const T *x, const T *mask, const T *kernel,    \
      const T *recurrent_kernel, const T *y, const T *workspace, const T *dy,  \
      const T *dfinal_state, T *dx, T *dkernel, T *drecurrent_kernel,          \
      T *dbias, T *dinitial_state) {                                           \
    backward<T>("kiln_rnn_bwd_" #SUFFIX, d, x, mask, kernel, recurrent_kernel, \
                y, workspace, dy, dfinal_state, dx, dkernel,                   \
                drecurrent_kernel, dbias, dinitial_state);                     \
  }

KILN_RNN_ENTRY_POINTS(float, f32)
KILN_RNN_ENTRY_POINTS(double, f64)
