//===- ShapeInferenceTest.cpp - unit tests of the kiln shape rules --------===//
//
// Calls the free shape functions of ir/ShapeInference.h directly: expected
// shapes from the rules in docs/spec.md, and the constraint label of every
// failure.
//
//===----------------------------------------------------------------------===//

#include "ir/ShapeInference.h"

#include "kiln/runtime.h"

#include <gtest/gtest.h>

#include <string>

using namespace mlir::kiln;

namespace {
/// The shape of a successful inference; fails the test on an error.
Shape ok(llvm::Expected<Shape> shape) {
  if (!shape) {
    ADD_FAILURE() << llvm::toString(shape.takeError());
    return {};
  }
  return *shape;
}

/// The label ("matmul_c4") of a failed inference; "" on success.
std::string label(llvm::Error error) {
  if (!error)
    return "";
  std::string message = llvm::toString(std::move(error));
  size_t end = message.find(']');
  return message.rfind('[', 0) == 0 && end != std::string::npos
             ? message.substr(1, end - 1)
             : "unlabelled: " + message;
}
std::string label(llvm::Expected<Shape> shape) {
  if (shape)
    return "";
  return label(shape.takeError());
}
RnnShapes ok(llvm::Expected<RnnShapes> shapes) {
  if (!shapes) {
    ADD_FAILURE() << llvm::toString(shapes.takeError());
    return {};
  }
  return *shapes;
}
std::string label(llvm::Expected<RnnShapes> shapes) {
  if (shapes)
    return "";
  return label(shapes.takeError());
}
} // namespace

TEST(ShapeInference, ElementCountIs64Bit) {
  // 262144 x 8960 f32 = 2,348,810,240 elements, more than 2^31.
  llvm::Expected<int64_t> count = getElementCount({262144, 8960});
  ASSERT_TRUE(static_cast<bool>(count));
  EXPECT_EQ(*count, 2348810240LL);
  EXPECT_EQ(*count * 4, 9395240960LL);
  llvm::Expected<int64_t> scalar = getElementCount({});
  ASSERT_TRUE(static_cast<bool>(scalar));
  EXPECT_EQ(*scalar, 1);
  llvm::Expected<int64_t> overflow =
      getElementCount({int64_t(1) << 40, int64_t(1) << 40});
  EXPECT_FALSE(static_cast<bool>(overflow));
  llvm::consumeError(overflow.takeError());
}

TEST(ShapeInference, Matmul) {
  EXPECT_EQ(ok(inferMatmulShape({128, 784}, {784, 512}, false, false)),
            (Shape{128, 512}));
  EXPECT_EQ(ok(inferMatmulShape({128, 784}, {512, 784}, false, true)),
            (Shape{128, 512}));
  EXPECT_EQ(ok(inferMatmulShape({784, 128}, {784, 512}, true, false)),
            (Shape{128, 512}));
  EXPECT_EQ(ok(inferMatmulShape({784, 128}, {512, 784}, true, true)),
            (Shape{128, 512}));
  EXPECT_EQ(ok(inferMatmulShape({4, 2, 3}, {4, 3, 5}, false, false)),
            (Shape{4, 2, 5}));
  EXPECT_EQ(label(inferMatmulShape({3}, {3, 4}, false, false)), "matmul_c1");
  EXPECT_EQ(label(inferMatmulShape({2, 2, 3}, {3, 4}, false, false)),
            "matmul_c1");
  EXPECT_EQ(label(inferMatmulShape({4, 2, 3}, {5, 3, 5}, false, false)),
            "matmul_c3");
  EXPECT_EQ(label(inferMatmulShape({2, 3}, {4, 5}, false, false)), "matmul_c4");
  EXPECT_EQ(label(inferMatmulShape({2, 3}, {3, 5}, false, true)), "matmul_c4");
}

TEST(ShapeInference, Reduce) {
  EXPECT_EQ(ok(inferReduceShape({2, 3, 5}, {1}, false)), (Shape{2, 5}));
  EXPECT_EQ(ok(inferReduceShape({2, 3, 5}, {0, 2}, true)), (Shape{1, 3, 1}));
  EXPECT_EQ(ok(inferReduceShape({2, 3}, {0, 1}, false)), (Shape{}));
  EXPECT_EQ(ok(inferReduceShape({2, 3}, {}, false)), (Shape{2, 3}));
  // A reduction over an axis of size 1 keeps or drops it like any other.
  EXPECT_EQ(ok(inferReduceShape({4, 1}, {1}, false)), (Shape{4}));
  EXPECT_EQ(label(inferReduceShape({2, 3}, {2}, false)), "reduce_c1");
  EXPECT_EQ(label(inferReduceShape({2, 3}, {-1}, false)), "reduce_c1");
  EXPECT_EQ(label(inferReduceShape({2, 3}, {1, 1}, false)), "reduce_c2");
}

TEST(ShapeInference, Argmax) {
  EXPECT_EQ(ok(inferArgmaxShape({8, 10}, 1, false)), (Shape{8}));
  EXPECT_EQ(ok(inferArgmaxShape({8, 10}, 1, true)), (Shape{8, 1}));
  EXPECT_EQ(label(inferArgmaxShape({8, 10}, 2, false)), "argmax_c1");
}

TEST(ShapeInference, Transpose) {
  EXPECT_EQ(ok(inferTransposeShape({2, 3, 5}, {2, 0, 1})), (Shape{5, 2, 3}));
  EXPECT_EQ(label(inferTransposeShape({2, 3}, {0})), "transpose_c1");
  EXPECT_EQ(label(inferTransposeShape({2, 3}, {0, 0})), "transpose_c1");
  EXPECT_EQ(label(inferTransposeShape({2, 3}, {0, 2})), "transpose_c1");
}

TEST(ShapeInference, Concat) {
  llvm::SmallVector<int64_t> a{2, 3}, b{2, 4}, c{3, 4}, d{2};
  EXPECT_EQ(ok(inferConcatShape({a, b}, 1)), (Shape{2, 7}));
  EXPECT_EQ(ok(inferConcatShape({a}, 0)), (Shape{2, 3}));
  EXPECT_EQ(label(inferConcatShape({}, 0)), "concat_c1");
  EXPECT_EQ(label(inferConcatShape({a, b}, 2)), "concat_c2");
  EXPECT_EQ(label(inferConcatShape({a, d}, 0)), "concat_c3");
  EXPECT_EQ(label(inferConcatShape({b, c}, 1)), "concat_c4");
}

TEST(ShapeInference, Gather) {
  EXPECT_EQ(ok(inferGatherShape({10, 4}, {2, 3}, 0)), (Shape{2, 3, 4}));
  EXPECT_EQ(ok(inferGatherShape({2, 5, 3}, {4}, 1)), (Shape{2, 4, 3}));
  EXPECT_EQ(ok(inferGatherShape({5}, {}, 0)), (Shape{}));
  EXPECT_EQ(label(inferGatherShape({10, 4}, {3}, 2)), "gather_c1");
  EXPECT_EQ(label(inferGatherShape({10, 4}, {3}, -1)), "gather_c1");
}

TEST(ShapeInference, ScatterAdd) {
  EXPECT_EQ(ok(inferScatterAddShape({2, 3, 4}, {2, 3}, 0, 10)), (Shape{10, 4}));
  EXPECT_EQ(ok(inferScatterAddShape({2, 4, 3}, {4}, 1, 5)), (Shape{2, 5, 3}));
  EXPECT_EQ(label(inferScatterAddShape({3, 4}, {2, 3}, 1, 10)),
            "scatter_add_c1");
  EXPECT_EQ(label(inferScatterAddShape({3, 4}, {3}, 0, 0)), "scatter_add_c1");
  EXPECT_EQ(label(inferScatterAddShape({2, 4, 5}, {2, 3}, 0, 10)),
            "scatter_add_c2");
}

TEST(ShapeInference, Rnn) {
  // LSTM: 4 gates; GRU reset_after: bias [2, 3H].
  RnnShapes lstm = ok(inferRnnShapes({2, 5, 3}, {3, 16}, {4, 16}, 4,
                                     /*gru=*/false, /*resetAfter=*/true));
  EXPECT_EQ(lstm.result, (Shape{2, 5, 4}));
  EXPECT_EQ(lstm.bias, (Shape{16}));
  RnnShapes gru =
      ok(inferRnnShapes({2, 5, 3}, {3, 12}, {4, 12}, 3, true, true));
  EXPECT_EQ(gru.bias, (Shape{2, 12}));
  EXPECT_EQ(label(inferRnnShapes({2, 5}, {3, 16}, {4, 16}, 4, false, true)),
            "rnn_c2");
  EXPECT_EQ(label(inferRnnShapes({2, 5, 3}, {3, 15}, {4, 16}, 4, false, true)),
            "rnn_c2");
  EXPECT_EQ(label(inferRnnShapes({2, 5, 3}, {3, 16}, {4, 12}, 4, false, true)),
            "rnn_c3");
}

/// The workspace size of the shape rule is the runtime's
/// kiln_rnn_workspace_size for every cell and form.
TEST(ShapeInference, RnnWorkspaceMatchesRuntime) {
  struct Case {
    int64_t cell, gates;
    bool gru, resetAfter;
  } cases[] = {{KILN_RNN_SIMPLE, 1, false, false},
               {KILN_RNN_LSTM, 4, false, false},
               {KILN_RNN_GRU, 3, true, true},
               {KILN_RNN_GRU, 3, true, false}};
  for (const Case &c : cases)
    for (int64_t n : {0, 1, 7})
      for (int64_t t : {1, 9}) {
        int64_t i = 5, h = 6;
        kiln_rnn_desc_t d{};
        d.cell = c.cell;
        d.batch = n;
        d.steps = t;
        d.input_size = i;
        d.units = h;
        d.activation = KILN_EPILOGUE_TANH;
        d.recurrent_activation = KILN_EPILOGUE_SIGMOID;
        d.reset_after = c.resetAfter ? 1 : 0;
        RnnShapes shapes =
            ok(inferRnnShapes({n, t, i}, {i, c.gates * h}, {h, c.gates * h},
                              c.gates, c.gru, c.resetAfter));
        EXPECT_EQ(shapes.workspace, kiln_rnn_workspace_size(&d))
            << "cell " << c.cell << " N " << n << " T " << t;
      }
}

TEST(ShapeInference, Slice) {
  EXPECT_EQ(ok(inferSliceShape({2, 10}, {0, 1}, {2, 8}, {1, 3})),
            (Shape{2, 3}));
  EXPECT_EQ(ok(inferSliceShape({4}, {2}, {2}, {1})), (Shape{0}));
  EXPECT_EQ(label(inferSliceShape({4}, {0, 0}, {4}, {1})), "slice_c1");
  EXPECT_EQ(label(inferSliceShape({4}, {3}, {2}, {1})), "slice_c2");
  EXPECT_EQ(label(inferSliceShape({4}, {0}, {5}, {1})), "slice_c2");
  EXPECT_EQ(label(inferSliceShape({4}, {0}, {4}, {0})), "slice_c3");
}

TEST(ShapeInference, Pad) {
  EXPECT_EQ(ok(inferPadShape({2, 2}, {0, 1}, {3, 1})), (Shape{5, 4}));
  EXPECT_EQ(label(inferPadShape({2, 2}, {0}, {0, 0})), "pad_c1");
  EXPECT_EQ(label(inferPadShape({2, 2}, {0, -1}, {0, 0})), "pad_c2");
  // Interior padding: low + size + (size - 1) * interior + high.
  EXPECT_EQ(ok(inferPadShape({2, 3}, {0, 1}, {1, 0}, {1, 2})), (Shape{4, 8}));
  EXPECT_EQ(ok(inferPadShape({1, 0}, {0, 0}, {0, 0}, {5, 5})), (Shape{1, 0}));
  EXPECT_EQ(label(inferPadShape({2, 2}, {0, 0}, {0, 0}, {1})), "pad_c1");
  EXPECT_EQ(label(inferPadShape({2, 2}, {0, 0}, {0, 0}, {0, -1})), "pad_c2");
}

TEST(ShapeInference, Iota) {
  EXPECT_EQ(label(verifyIotaDimension(2, 1)), "");
  EXPECT_EQ(label(verifyIotaDimension(2, 2)), "iota_c1");
  EXPECT_EQ(label(verifyIotaDimension(0, 0)), "iota_c1");
}

TEST(ShapeInference, Reshape) {
  EXPECT_EQ(label(verifyReshapeShapes({128, 28, 28}, {128, 784})), "");
  EXPECT_EQ(label(verifyReshapeShapes({}, {1, 1})), "");
  EXPECT_EQ(label(verifyReshapeShapes({2, 3}, {5})), "reshape_c1");
}

TEST(ShapeInference, BroadcastInDim) {
  EXPECT_EQ(label(verifyBroadcastInDimShapes({512}, {1}, {128, 512})), "");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({1, 3}, {0, 1}, {4, 3})), "");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({}, {}, {4, 3})), "");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({512}, {}, {128, 512})),
            "broadcast_in_dim_c1");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({512}, {2}, {128, 512})),
            "broadcast_in_dim_c2");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({2, 3}, {1, 0}, {3, 2})),
            "broadcast_in_dim_c2");
  EXPECT_EQ(label(verifyBroadcastInDimShapes({3}, {1}, {128, 512})),
            "broadcast_in_dim_c3");
}

TEST(ShapeInference, SoftmaxAxis) {
  EXPECT_EQ(label(verifySoftmaxAxis(2, 1)), "");
  EXPECT_EQ(label(verifySoftmaxAxis(2, 2)), "softmax_c1");
  EXPECT_EQ(label(verifySoftmaxAxis(2, -1)), "softmax_c1");
}

TEST(ShapeInference, Loss) {
  EXPECT_EQ(ok(inferLossShape({8, 10}, {8, 10}, {8}, LossLabels::Dense)),
            (Shape{}));
  EXPECT_EQ(ok(inferLossShape({8, 10}, {8}, {8}, LossLabels::Sparse)),
            (Shape{}));
  EXPECT_EQ(ok(inferLossShape({8}, {8}, {8}, LossLabels::Dense)), (Shape{}));
  EXPECT_EQ(label(inferLossShape({}, {}, {1}, LossLabels::Dense)), "loss_c1");
  EXPECT_EQ(label(inferLossShape({8}, {}, {8}, LossLabels::Sparse)), "loss_c1");
  // Categorical losses need a class axis after the batch axis.
  EXPECT_EQ(label(inferLossShape({8}, {8}, {8}, LossLabels::Categorical)),
            "loss_c1");
  EXPECT_EQ(ok(inferLossShape({8, 3}, {8, 3}, {8}, LossLabels::Categorical)),
            (Shape{}));
  EXPECT_EQ(label(inferLossShape({8, 10}, {8, 9}, {8}, LossLabels::Dense)),
            "loss_c2");
  EXPECT_EQ(label(inferLossShape({8, 10}, {8, 10}, {8}, LossLabels::Sparse)),
            "loss_c2");
  EXPECT_EQ(label(inferLossShape({8, 10}, {8, 10}, {4}, LossLabels::Dense)),
            "loss_c3");
  EXPECT_EQ(label(inferLossShape({8, 10}, {8, 10}, {8, 1}, LossLabels::Dense)),
            "loss_c3");
}
