// ociimage (main.go): assembles the operator image and the node's images as OCI
// archives from a rootfs spec, with no container engine and no base image, using
// go-containerregistry (e2e/image.sh builds and runs it).
module attestor.local/e2e/image

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
