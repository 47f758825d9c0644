func.func @forward(%a: tensor<4xf32> {kiln.param = 3}) -> (tensor<4xf32> {kiln.name = "out"}) {
  %0 = kiln.relu %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
