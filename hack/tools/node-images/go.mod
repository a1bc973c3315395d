module m87.invalid/tools/node-images

go 1.26.0
