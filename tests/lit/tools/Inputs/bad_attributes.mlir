func.func @forward(%a: tensor<4xf32> {kiln.param = 3}, %b: tensor<4xf32> {kiln.l2 = -1.0 : f64}) -> (tensor<4xf32> {kiln.param = "out"}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
