//===- KilnBuilderTest.cpp - tests of the typed IR builders ---------------===//
//
// ForwardFunctionBuilder (ir/KilnBuilder.h): the argument and result order
// of the forward form, every stage attribute it writes, and that the
// dialect's attribute verifier accepts the result.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnBuilder.h"
#include "ir/KilnOps.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::kiln;

namespace {
struct KilnBuilderTest : ::testing::Test {
  KilnBuilderTest() {
    DialectRegistry registry;
    registerKilnDialect(registry);
    registry.insert<func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }
  MLIRContext context;
};

TEST_F(KilnBuilderTest, OrdersArgumentsAndWritesTheProtocol) {
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ForwardFunctionBuilder fb(*module, loc);
  KilnBuilder &b = fb.builder();
  auto f32 = b.getF32Type();
  // Added out of order: an input, the counter, a param, a second input,
  // state; finish() orders params, inputs, counter.
  Value x = fb.addInput(RankedTensorType::get({2, 3}, f32), "x");
  Value counter = fb.stepCounter();
  EXPECT_EQ(fb.stepCounter(), counter); // created once
  ParamSpec kernel;
  kernel.name = "dense/kernel";
  kernel.trainable = true;
  kernel.initializer =
      b.getDictionaryAttr(b.getNamedAttr("name", b.getStringAttr("ones")));
  kernel.l2 = 0.5;
  Value w = fb.addParam(RankedTensorType::get({3, 3}, f32), kernel);
  Value z = fb.addInput(RankedTensorType::get({2, 3}, f32), "z");
  ParamSpec mean;
  mean.name = "bn/mean";
  mean.state = true;
  Value m = fb.addParam(RankedTensorType::get({3}, f32), mean);
  ASSERT_TRUE(succeeded(fb.setInputOrder({z, x})));
  EXPECT_TRUE(failed(fb.setInputOrder({z, z})));
  EXPECT_EQ(fb.getInputName(x).getValue(), "x");
  EXPECT_FALSE(fb.getInputName(w));

  Value y = b.create<MatmulOp>(TypeRange{x.getType()}, ValueRange{x, w});
  Value sum = b.create<AddOp>(TypeRange{y.getType()}, ValueRange{y, z});
  Value one = b.splat(cast<RankedTensorType>(m.getType()), 1.0);
  Value shifted = b.create<AddOp>(TypeRange{m.getType()}, ValueRange{m, one});
  fb.addOutput(sum, "y");
  fb.addStateUpdate(m, shifted);
  func::FuncOp func = fb.finish();
  ASSERT_TRUE(succeeded(verify(*module)));

  ASSERT_EQ(func.getNumArguments(), 5u);
  using D = KilnDialect;
  EXPECT_EQ(getArgAttr<D::ParamAttrHelper>(func, 0).getValue(), "dense/kernel");
  EXPECT_TRUE(hasArgAttr<D::TrainableAttrHelper>(func, 0));
  EXPECT_EQ(getArgAttr<D::L2AttrHelper>(func, 0).getValueAsDouble(), 0.5);
  EXPECT_FALSE(getArgAttr<D::L1AttrHelper>(func, 0));
  EXPECT_TRUE(getArgAttr<D::InitializerAttrHelper>(func, 0));
  EXPECT_EQ(getArgAttr<D::ParamAttrHelper>(func, 1).getValue(), "bn/mean");
  EXPECT_TRUE(hasArgAttr<D::StateAttrHelper>(func, 1));
  EXPECT_FALSE(hasArgAttr<D::TrainableAttrHelper>(func, 1));
  EXPECT_EQ(getArgAttr<D::NameAttrHelper>(func, 2).getValue(), "z");
  EXPECT_EQ(getArgAttr<D::NameAttrHelper>(func, 3).getValue(), "x");
  EXPECT_TRUE(hasArgAttr<D::StepAttrHelper>(func, 4));

  ASSERT_EQ(func.getNumResults(), 2u);
  EXPECT_EQ(getResultAttr<D::NameAttrHelper>(func, 0).getValue(), "y");
  EXPECT_EQ(getResultAttr<D::StateUpdateOfAttrHelper>(func, 1).getInt(), 1);
  // The body uses the reordered block arguments.
  Block &body = func.getBody().front();
  auto matmul = cast<MatmulOp>(&body.front());
  EXPECT_EQ(matmul.getLhs(), body.getArgument(3));
  EXPECT_EQ(matmul.getRhs(), body.getArgument(0));
}

TEST_F(KilnBuilderTest, PutsTheLossMaskBetweenOutputsAndStateUpdates) {
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ForwardFunctionBuilder fb(*module, loc);
  KilnBuilder &b = fb.builder();
  auto f32 = b.getF32Type();
  ParamSpec mean;
  mean.name = "bn/mean";
  mean.state = true;
  Value m = fb.addParam(RankedTensorType::get({3}, f32), mean);
  Value x = fb.addInput(RankedTensorType::get({2, 4, 3}, f32), "x");
  Value mask = fb.addInput(RankedTensorType::get({2, 4}, f32), "m");
  Value one = b.splat(cast<RankedTensorType>(m.getType()), 1.0);
  fb.addStateUpdate(
      m, b.create<AddOp>(TypeRange{m.getType()}, ValueRange{m, one}));
  fb.setLossMask(mask);
  fb.addOutput(x, "y");
  func::FuncOp func = fb.finish();
  ASSERT_TRUE(succeeded(verify(*module)));

  using D = KilnDialect;
  ASSERT_EQ(func.getNumResults(), 3u);
  EXPECT_EQ(getResultAttr<D::NameAttrHelper>(func, 0).getValue(), "y");
  EXPECT_TRUE(hasResultAttr<D::LossMaskAttrHelper>(func, 1));
  EXPECT_FALSE(hasResultAttr<D::LossMaskAttrHelper>(func, 0));
  EXPECT_EQ(getResultAttr<D::StateUpdateOfAttrHelper>(func, 2).getInt(), 0);
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  EXPECT_EQ(ret.getOperand(1), func.getArgument(2));
}

TEST_F(KilnBuilderTest, ReturnsArgumentsAfterReordering) {
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ForwardFunctionBuilder fb(*module, loc);
  auto type = RankedTensorType::get({4}, fb.builder().getF32Type());
  Value x = fb.addInput(type, "x");
  ParamSpec p;
  p.name = "p";
  Value w = fb.addParam(type, p);
  fb.addOutput(x, "identity");
  fb.addOutput(w, "param");
  func::FuncOp func = fb.finish();
  ASSERT_TRUE(succeeded(verify(*module)));
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  EXPECT_EQ(ret.getOperand(0), func.getArgument(1));
  EXPECT_EQ(ret.getOperand(1), func.getArgument(0));
}

TEST_F(KilnBuilderTest, BroadcastAndReshapeFollowNumPy) {
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ForwardFunctionBuilder fb(*module, loc);
  KilnBuilder &b = fb.builder();
  Value v = fb.addInput(RankedTensorType::get({3}, b.getF32Type()), "v");
  EXPECT_EQ(b.broadcastTo(v, {3}), v);
  EXPECT_EQ(b.reshape(v, {3}), v);
  auto bcast = b.broadcastTo(v, {2, 3}).getDefiningOp<BroadcastInDimOp>();
  ASSERT_TRUE(bcast);
  EXPECT_EQ(bcast.getBroadcastDimensions(), ArrayRef<int64_t>({1}));
  Value r = b.reshape(v, {3, 1});
  EXPECT_EQ(cast<RankedTensorType>(r.getType()).getShape(),
            ArrayRef<int64_t>({3, 1}));
  fb.addOutput(bcast, "b");
  fb.addOutput(r, "r");
  fb.finish();
  EXPECT_TRUE(succeeded(verify(*module)));
}
} // namespace
