//===- conv_kernels.cpp - convolution kernel throughput ---------*- C++ -*-===//
//
// GFLOP/s of kiln's f32 convolution kernels (kiln_conv_{fwd,bwd_data,
// bwd_filter}_f32) and, when the build found oneDNN, of oneDNN's convolution
// primitives on the same channels-last (nwc/nhwc, hwio) memory, created once
// and executed per call. Shapes: the keras.io MNIST convnet layers at batch
// 128 and a ResNet-style 3x3 convolution; 1 and 2 threads.
//
// Usage: kiln-bench-conv [min_seconds_per_measurement]   (default 0.3)
// Results: bench/results/conv_kernels.md.
//
//===----------------------------------------------------------------------===//

#include "BenchUtil.h"
#include "kiln/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <immintrin.h>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if KILN_BENCH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
extern "C" void omp_set_num_threads(int);
#endif

using namespace kiln_bench;

namespace {

struct Shape {
  const char *name;
  int64_t N, H, W, C, F, K, pad;
};

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    minSeconds = std::atof(argv[1]);
  const Shape shapes[] = {
      {"mnist conv1 28x28x1->26x26x32 k3", 128, 28, 28, 1, 32, 3, 0},
      {"mnist conv2 13x13x32->11x11x64 k3", 128, 13, 13, 32, 64, 3, 0},
      {"resnet 32x32x16->32x32x16 k3 pad1", 128, 32, 32, 16, 16, 3, 1},
  };
  const auto measured = measurePeak();
  const double peak = measured.first;
  const char *isa = measured.second;
  std::printf("Measured FP32 peak: %.1f GFLOP/s per core (%s, register-blocked "
              "FMAs on L1 data); %% of peak = GFLOP/s / (threads x peak).\n\n",
              peak, isa);
  std::printf("| shape | kernel | impl | threads | ms/call | GFLOP/s | %% of "
              "peak |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Shape &s : shapes) {
    int64_t OH = s.H + 2 * s.pad - s.K + 1, OW = s.W + 2 * s.pad - s.K + 1;
    kiln_conv_desc_t d = {};
    d.spatial_rank = 2;
    d.groups = 1;
    d.batch = s.N;
    d.in_channels = s.C;
    d.out_channels = s.F;
    d.in_size[0] = s.H;
    d.in_size[1] = s.W;
    d.in_size[2] = 1;
    d.out_size[0] = OH;
    d.out_size[1] = OW;
    d.out_size[2] = 1;
    for (int i = 0; i < 3; ++i) {
      d.kernel[i] = i < 2 ? s.K : 1;
      d.stride[i] = d.dilation[i] = 1;
      d.pad_low[i] = d.pad_high[i] = i < 2 ? s.pad : 0;
    }
    d.epilogue = KILN_EPILOGUE_RELU;
    std::vector<float> x = randomVector(s.N * s.H * s.W * s.C, 1),
                       w = randomVector(s.K * s.K * s.C * s.F, 2),
                       b = randomVector(s.F, 3),
                       dy = randomVector(s.N * OH * OW * s.F, 4);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
    double flops = 2.0 * s.N * OH * OW * s.F * s.K * s.K * s.C;

    auto report = [&](const char *kernel, const char *impl, int threads,
                      double seconds) {
      double gflops = flops / seconds * 1e-9;
      std::printf("| %s | %s | %s | %d | %.3f | %.1f | %.0f |\n", s.name,
                  kernel, impl, threads, seconds * 1e3, gflops,
                  peak > 0 ? 100.0 * gflops / (threads * peak) : 0.0);
      std::fflush(stdout);
    };

#if KILN_BENCH_DNNL
    using namespace dnnl;
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    using tag = memory::format_tag;
    memory::desc xmd({s.N, s.C, s.H, s.W}, memory::data_type::f32, tag::nhwc);
    memory::desc wmd({s.F, s.C, s.K, s.K}, memory::data_type::f32, tag::hwio);
    memory::desc bmd({s.F}, memory::data_type::f32, tag::x);
    memory::desc ymd({s.N, s.F, OH, OW}, memory::data_type::f32, tag::nhwc);
    memory::dims strides = {1, 1}, dil = {0, 0}, pads = {s.pad, s.pad};
    convolution_forward::desc fd(prop_kind::forward_training,
                                 algorithm::convolution_direct, xmd, wmd, bmd,
                                 ymd, strides, dil, pads, pads);
    post_ops ops;
    ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
    primitive_attr attr;
    attr.set_post_ops(ops);
    convolution_forward::primitive_desc fpd(fd, attr, eng);
    convolution_backward_data::desc bdd(algorithm::convolution_direct, xmd, wmd,
                                        ymd, strides, dil, pads, pads);
    convolution_backward_data::primitive_desc bdpd(bdd, eng, fpd);
    convolution_backward_weights::desc bwd(algorithm::convolution_direct, xmd,
                                           wmd, ymd, strides, dil, pads, pads);
    convolution_backward_weights::primitive_desc bwpd(bwd, eng, fpd);
    std::fprintf(stderr, "%s: oneDNN fwd %s, bwd_data %s, bwd_weights %s\n",
                 s.name, fpd.impl_info_str(), bdpd.impl_info_str(),
                 bwpd.impl_info_str());
    memory xm(xmd, eng, x.data()), wm(wmd, eng, w.data()),
        bm(bmd, eng, b.data()), ym(ymd, eng, y.data()),
        dym(ymd, eng, dy.data()), dxm(xmd, eng, dx.data()),
        dwm(wmd, eng, dw.data());
    // Variant: weights in the layout oneDNN prefers (format `any`, usually
    // blocked), with the weight reorders counted in every call, since the
    // weights change every training step.
    memory::desc wany({s.F, s.C, s.K, s.K}, memory::data_type::f32, tag::any);
    convolution_forward::desc fda(prop_kind::forward_training,
                                  algorithm::convolution_direct, xmd, wany, bmd,
                                  ymd, strides, dil, pads, pads);
    convolution_forward::primitive_desc fpda(fda, attr, eng);
    convolution_backward_data::desc bdda(algorithm::convolution_direct, xmd,
                                         wany, ymd, strides, dil, pads, pads);
    convolution_backward_data::primitive_desc bdpda(bdda, eng, fpda);
    convolution_backward_weights::desc bwda(algorithm::convolution_direct, xmd,
                                            wany, ymd, strides, dil, pads,
                                            pads);
    convolution_backward_weights::primitive_desc bwpda(bwda, eng, fpda);
    std::fprintf(stderr,
                 "%s: oneDNN any-weights fwd %s, bwd_data %s, "
                 "bwd_weights %s\n",
                 s.name, fpda.impl_info_str(), bdpda.impl_info_str(),
                 bwpda.impl_info_str());
    memory wfa(fpda.weights_desc(), eng), wba(bdpda.weights_desc(), eng),
        dwa(bwpda.diff_weights_desc(), eng);
    reorder toFwd(wm, wfa), toBwd(wm, wba), fromBwdW(dwa, dwm);
    convolution_forward fwdAny(fpda);
    convolution_backward_data bwdDataAny(bdpda);
    convolution_backward_weights bwdWAny(bwpda);
    convolution_forward fwd(fpd);
    convolution_backward_data bwdData(bdpd);
    convolution_backward_weights bwdW(bwpd);
#endif

    for (int threads : {1, 2}) {
      kiln_set_num_threads(threads);
      report("fwd+bias+relu", "kiln im2col+gemm", threads, timeIt([&] {
               kiln_conv_fwd_f32(&d, x.data(), w.data(), b.data(), y.data());
             }));
      report("bwd_data", "kiln im2col+gemm", threads, timeIt([&] {
               kiln_conv_bwd_data_f32(&d, dy.data(), w.data(), dx.data());
             }));
      report("bwd_filter", "kiln im2col+gemm", threads, timeIt([&] {
               kiln_conv_bwd_filter_f32(&d, x.data(), dy.data(), dw.data());
             }));
#if KILN_BENCH_DNNL
      omp_set_num_threads(threads);
      report("fwd+bias+relu", "oneDNN", threads, timeIt([&] {
               fwd.execute(strm, {{DNNL_ARG_SRC, xm},
                                  {DNNL_ARG_WEIGHTS, wm},
                                  {DNNL_ARG_BIAS, bm},
                                  {DNNL_ARG_DST, ym}});
               strm.wait();
             }));
      report("bwd_data", "oneDNN", threads, timeIt([&] {
               bwdData.execute(strm, {{DNNL_ARG_DIFF_DST, dym},
                                      {DNNL_ARG_WEIGHTS, wm},
                                      {DNNL_ARG_DIFF_SRC, dxm}});
               strm.wait();
             }));
      report("bwd_filter", "oneDNN", threads, timeIt([&] {
               bwdW.execute(strm, {{DNNL_ARG_SRC, xm},
                                   {DNNL_ARG_DIFF_DST, dym},
                                   {DNNL_ARG_DIFF_WEIGHTS, dwm}});
               strm.wait();
             }));
      report("fwd+bias+relu", "oneDNN any-weights+reorder", threads,
             timeIt([&] {
               toFwd.execute(strm, wm, wfa);
               fwdAny.execute(strm, {{DNNL_ARG_SRC, xm},
                                     {DNNL_ARG_WEIGHTS, wfa},
                                     {DNNL_ARG_BIAS, bm},
                                     {DNNL_ARG_DST, ym}});
               strm.wait();
             }));
      report("bwd_data", "oneDNN any-weights+reorder", threads, timeIt([&] {
               toBwd.execute(strm, wm, wba);
               bwdDataAny.execute(strm, {{DNNL_ARG_DIFF_DST, dym},
                                         {DNNL_ARG_WEIGHTS, wba},
                                         {DNNL_ARG_DIFF_SRC, dxm}});
               strm.wait();
             }));
      report("bwd_filter", "oneDNN any-weights+reorder", threads, timeIt([&] {
               bwdWAny.execute(strm, {{DNNL_ARG_SRC, xm},
                                      {DNNL_ARG_DIFF_DST, dym},
                                      {DNNL_ARG_DIFF_WEIGHTS, dwa}});
               fromBwdW.execute(strm, dwa, dwm);
               strm.wait();
             }));
#endif
    }
  }
  return 0;
}
