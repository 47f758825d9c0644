//===- OpTableTest.cpp - every kiln op declares its table entries ---------===//
//
// The op table (ir/KilnOps.td + ir/KilnInterfaces.td) is complete: every
// registered kiln op states whether it has a gradient (a VJP rule through
// DifferentiableOpInterface, or the ZeroGradient trait, never both), its
// FLOP count (FlopCountOpInterface), and, when it is elementwise, its scalar
// body (ElementwiseScalarOpInterface, which the one elementwise lowering
// pattern needs). A missing C++ implementation is a link error already; this
// test catches an op record that forgets to declare the interface at all,
// and lists every offender.
//
//===----------------------------------------------------------------------===//

#include "ir/KilnOps.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OpDefinition.h"

#include <gtest/gtest.h>

#include <string>

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// The names of the registered kiln ops for which `missing` holds.
template <typename Pred> std::string offenders(MLIRContext &ctx, Pred missing) {
  std::string names;
  for (RegisteredOperationName op : ctx.getRegisteredOperations())
    if (op.getDialectNamespace() == "kiln" && missing(op))
      names += " " + op.getStringRef().str();
  return names;
}

class OpTableTest : public ::testing::Test {
protected:
  void SetUp() override { ctx.getOrLoadDialect<KilnDialect>(); }
  MLIRContext ctx;
};

TEST_F(OpTableTest, DialectHasOps) {
  // Guards the checks below against an empty op list.
  EXPECT_GT(offenders(ctx, [](auto) { return true; }).size(), 0u);
}

TEST_F(OpTableTest, EveryOpHasAGradientRuleOrZeroGradient) {
  EXPECT_EQ(offenders(ctx,
                      [](RegisteredOperationName op) {
                        bool rule =
                            op.hasInterface<DifferentiableOpInterface>();
                        bool zero = op.hasTrait<OpTrait::kiln::ZeroGradient>();
                        return rule == zero; // neither, or both
                      }),
            "");
}

TEST_F(OpTableTest, EveryOpCountsItsFlops) {
  EXPECT_EQ(offenders(ctx,
                      [](RegisteredOperationName op) {
                        return !op.hasInterface<FlopCountOpInterface>();
                      }),
            "");
}

TEST_F(OpTableTest, EveryElementwiseOpHasAScalarBody) {
  EXPECT_EQ(offenders(ctx,
                      [](RegisteredOperationName op) {
                        return op.hasTrait<OpTrait::Elementwise>() &&
                               !op.hasInterface<ElementwiseScalarOpInterface>();
                      }),
            "");
}

TEST_F(OpTableTest, DropoutHasAnInferenceForm) {
  EXPECT_TRUE(
      RegisteredOperationName::lookup(DropoutOp::getOperationName(), &ctx)
          ->hasInterface<InferenceFormOpInterface>());
}

} // namespace
