// ociimage assembles a container image from a root filesystem spec, with no
// container engine and no base image, and lists the files of image archives.
// e2e/image.sh drives it (see e2e/README.md, "Images").
//
//	ociimage build -spec FILE [-set key=path]... -name REF -out FILE.tar
//	    [-entrypoint P]... [-cmd A]... [-user U] [-workdir D] [-env K=V]...
//	ociimage ls FILE.tar
//	ociimage push FILE.tar REF
//
// build writes one layer (gzip) holding / (0755, root) and exactly the entries of
// the spec, with mtime 0 and the spec's modes and owners, so the same inputs give the same
// digest. The archive is an OCI image layout (index.json, blobs/sha256/) that
// also carries a docker-archive manifest.json: `ctr images import`, `kind load
// image-archive` and `docker load` all read it and keep the manifest digest.
// It prints the manifest digest on stdout.
//
// ls prints the flattened filesystem of an image archive (this tool's, or
// `docker save` output), one "type mode uid:gid size sha256 path" line per
// entry, sorted by path: what e2e/image.sh compares to check that two builds
// produce the same filesystem.
//
// push uploads the image of an archive of this tool (its OCI layout) to a
// registry as REF (host[:port]/repository:tag) unchanged, so its digest stays the
// archive's; it prints REF@digest. Loopback and private registries are spoken to
// over plain HTTP; credentials come from ~/.docker/config.json (DOCKER_CONFIG).
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "push":
		if len(os.Args) != 4 {
			usage()
		}
		err = push(os.Args[2], os.Args[3], os.Stdout)
	case "ls":
		if len(os.Args) != 3 {
			usage()
		}
		err = list(os.Args[2], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ociimage build -spec FILE [-set key=path]... -name REF -out FILE [-entrypoint P]... [-cmd A]... [-user U] [-workdir D] [-env K=V]...\n       ociimage ls FILE\n       ociimage push FILE REF")
	os.Exit(2)
}

// entry is one line of a rootfs spec: "d PATH MODE UID GID" or
// "f PATH MODE UID GID SOURCE", SOURCE a path relative to the spec's
// directory or {key}, given with -set key=path.
type entry struct {
	typ      byte
	path     string
	mode     int64
	uid, gid int
	source   string
}

func readSpec(file string, vars map[string]string) ([]entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []entry
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s: %q", file, n, why, line) }
		if len(fields) < 5 || (fields[0] == "d" && len(fields) != 5) || (fields[0] == "f" && len(fields) != 6) ||
			(fields[0] != "d" && fields[0] != "f") {
			return nil, bad(`want "d PATH MODE UID GID" or "f PATH MODE UID GID SOURCE"`)
		}
		e := entry{typ: fields[0][0], path: fields[1]}
		if !strings.HasPrefix(e.path, "/") || path.Clean(e.path) != e.path || e.path == "/" {
			return nil, bad("path must be absolute and clean")
		}
		if seen[e.path] {
			return nil, bad("duplicate path")
		}
		seen[e.path] = true
		if parent := path.Dir(e.path); parent != "/" && !seen[parent] {
			return nil, bad("parent directory " + parent + " must come first")
		}
		if e.mode, err = strconv.ParseInt(fields[2], 8, 32); err != nil || e.mode > 0o7777 {
			return nil, bad("mode must be octal, at most 7777")
		}
		if e.uid, err = strconv.Atoi(fields[3]); err != nil || e.uid < 0 {
			return nil, bad("uid must be a number")
		}
		if e.gid, err = strconv.Atoi(fields[4]); err != nil || e.gid < 0 {
			return nil, bad("gid must be a number")
		}
		if e.typ == 'f' {
			src := fields[5]
			if strings.HasPrefix(src, "{") && strings.HasSuffix(src, "}") {
				v, ok := vars[src[1:len(src)-1]]
				if !ok {
					return nil, bad("no -set " + src[1:len(src)-1] + "=PATH given")
				}
				src = v
			} else if !path.IsAbs(src) {
				src = path.Join(path.Dir(file), src)
			}
			e.source = src
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// layerTar writes the spec's entries as an uncompressed tar, in spec order,
// with fixed times and no user or group names.
func layerTar(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	// The root directory itself: without it the runtime makes / of the container 0700, and
	// a non-root user cannot reach anything in it.
	if err := tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	for _, e := range entries {
		h := &tar.Header{
			Name: strings.TrimPrefix(e.path, "/"), Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: epoch, Format: tar.FormatPAX,
		}
		var data []byte
		if e.typ == 'd' {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			var err error
			if data, err = os.ReadFile(e.source); err != nil {
				return nil, err
			}
			h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	spec := fs.String("spec", "", "rootfs spec file")
	ref := fs.String("name", "", "image name, e.g. attestor.local/attestor:dev")
	out := fs.String("out", "", "archive to write")
	user := fs.String("user", "", "user of the image config")
	workdir := fs.String("workdir", "/", "working directory of the image config")
	var sets, entrypoint, cmd, env multi
	fs.Var(&sets, "set", "key=path for a {key} source in the spec")
	fs.Var(&entrypoint, "entrypoint", "entrypoint element (repeat)")
	fs.Var(&cmd, "cmd", "cmd element (repeat)")
	fs.Var(&env, "env", "K=V (repeat)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *spec == "" || *ref == "" || *out == "" || fs.NArg() != 0 {
		usage()
	}
	vars := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("-set %q: want key=path", s)
		}
		vars[k] = v
	}
	entries, err := readSpec(*spec, vars)
	if err != nil {
		return err
	}
	raw, err := layerTar(entries)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.History = []v1.History{{Created: cf.Created, CreatedBy: "e2e/image.sh " + path.Base(*spec)}}
	cf.Config = v1.Config{Entrypoint: entrypoint, Cmd: cmd, User: *user, WorkingDir: *workdir, Env: env}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	digest, err := writeArchive(*out, *ref, img)
	if err != nil {
		return err
	}
	fmt.Println(digest)
	return nil
}

// writeArchive writes img as an OCI image layout tarball plus a docker-archive
// manifest.json, entries sorted and timestamps fixed. Returns the manifest digest.
func writeArchive(file, ref string, img v1.Image) (string, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return "", err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return "", err
	}
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	blobs := map[string][]byte{}
	addBlob := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		blobs["blobs/sha256/"+h] = b
		return "blobs/sha256/" + h
	}
	configPath := addBlob(config)
	manifestPath := addBlob(manifest)
	var layerPaths []string
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		layerPaths = append(layerPaths, addBlob(b))
	}
	digest := "sha256:" + path.Base(manifestPath)
	// io.containerd.image.name: the full name ctr import gives the image;
	// org.opencontainers.image.ref.name: the tag, as the OCI spec has it.
	tag := ref[strings.LastIndex(ref, ":")+1:]
	if i := strings.LastIndex(ref, ":"); i < 0 || strings.Contains(ref[i:], "/") {
		return "", fmt.Errorf("-name %q: want repository:tag", ref)
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIImageIndex,
		"manifests": []map[string]any{{
			"mediaType": types.OCIManifestSchema1,
			"digest":    digest,
			"size":      len(manifest),
			"platform":  map[string]string{"architecture": "amd64", "os": "linux"},
			"annotations": map[string]string{
				"io.containerd.image.name":          ref,
				"org.opencontainers.image.ref.name": tag,
			},
		}},
	})
	if err != nil {
		return "", err
	}
	dockerManifest, err := json.Marshal([]map[string]any{{
		"Config": configPath, "RepoTags": []string{ref}, "Layers": layerPaths,
	}})
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"oci-layout":    []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json":    index,
		"manifest.json": dockerManifest,
	}
	for k, v := range blobs {
		files[k] = v
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0).UTC()
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return "", err
		}
	}
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return "", err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return digest, os.Rename(tmp, file)
}

func list(file string, w io.Writer) error {
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var lines []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		sum := "-"
		if h.Typeflag == tar.TypeReg {
			hash := sha256.New()
			if _, err := io.Copy(hash, tr); err != nil {
				return err
			}
			sum = hex.EncodeToString(hash.Sum(nil))
		}
		name := "/" + strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), "/")
		lines = append(lines, fmt.Sprintf("%c %04o %d:%d %d %s %s", typeChar(h.Typeflag), h.Mode&0o7777, h.Uid, h.Gid, h.Size, sum, name))
	}
	sort.Slice(lines, func(i, j int) bool { return lastField(lines[i]) < lastField(lines[j]) })
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

func lastField(s string) string { return s[strings.LastIndex(s, " ")+1:] }

func typeChar(t byte) byte {
	switch t {
	case tar.TypeDir:
		return 'd'
	case tar.TypeReg:
		return 'f'
	case tar.TypeSymlink:
		return 'l'
	case tar.TypeLink:
		return 'h'
	default:
		return '?'
	}
}
