package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFirstRun builds shopbot exactly as the Dockerfile does, once, and runs
// what a new user runs first: `shopbot demo` and, since no container engine
// runs here, `shopbot check` as the README's `docker run` line would.
func TestFirstRun(t *testing.T) {
	root, docker, bin := dockerBinary(t)
	t.Run("docker run check", func(t *testing.T) { dockerRunCheck(t, root, docker, bin) })
	t.Run("demo output", func(t *testing.T) { demoFirstSeconds(t, bin) })
}

// dockerBinary builds shopbot as the Dockerfile does (skipped in -short
// mode) and returns the repository root, the Dockerfile's facts and the
// binary. A second build in the same run comes from Go's build cache.
func dockerBinary(t *testing.T) (root string, d dockerfile, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	d = readDockerfile(t, filepath.Join(root, "Dockerfile"))
	return root, d, d.build(t, root)
}

// dockerfile is what the test needs from the Dockerfile.
type dockerfile struct {
	buildEnv  []string // NAME=value before `go build`
	buildArgs []string // after `go build`, -o and package included
	env       map[string]string
	text      string
}

// readDockerfile finds the build stage's `RUN ... go build` line (ARG
// defaults substituted) and the runtime stage's ENV lines.
func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{env: map[string]string{}, text: string(b)}
	args := map[string]string{}
	for _, line := range strings.Split(d.text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "ARG" && strings.Contains(f[1], "="):
			k, v, _ := strings.Cut(f[1], "=")
			args[k] = v
		case len(f) == 2 && f[0] == "ENV" && strings.Contains(f[1], "="):
			k, v, _ := strings.Cut(f[1], "=")
			d.env[k] = v
		case len(f) > 0 && f[0] == "RUN" && strings.Contains(line, " go build "):
			words := shellWords(t, os.Expand(strings.TrimPrefix(strings.TrimSpace(line), "RUN "), func(k string) string { return args[k] }))
			i := 0
			for ; i < len(words) && strings.Contains(words[i], "="); i++ {
				d.buildEnv = append(d.buildEnv, words[i])
			}
			if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
				t.Fatalf("Dockerfile build line %q: want [NAME=value ...] go build ...", line)
			}
			d.buildArgs = words[i+2:]
		}
	}
	if d.buildArgs == nil {
		t.Fatal("Dockerfile has no RUN ... go build line")
	}
	return d
}

// shellWords splits a command line as sh would for the Dockerfile's simple
// quoting: words separated by blanks, "..." grouping.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// build runs the Dockerfile's go build in root with -o pointed at a
// temporary file, and returns that file.
func (d dockerfile) build(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shopbot")
	args := append([]string{"build"}, d.buildArgs...)
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = bin
		}
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), d.buildEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", strings.Join(d.buildEnv, " "), args, err, out)
	}
	return bin
}

// readmeEnvValues are plausible values of every variable the README's
// docker run line may pass: the shapes config.example.toml and Validate
// expect.
var readmeEnvValues = map[string]string{
	"STRIPE_SECRET_KEY":       "sk_test_51ExampleExampleExample",
	"STRIPE_WEBHOOK_SECRET":   "whsec_ExampleExampleExampleExample",
	"AUTHFORGE_APP_SECRET":    "af_secret_example",
	"AUTHFORGE_API_KEY":       "af_live_example",
	"AUTHFORGE_PUBLIC_KEY":    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	"TELEGRAM_TOKEN":          "123456789:AAExampleExampleExampleExampleExamp",
	"TELEGRAM_WEBHOOK_SECRET": "example-webhook-secret-0123456789",
	"DISCORD_TOKEN":           "MTIzNDU2Nzg5MDEyMzQ1Njc4.Example.Example",
	"SHOPBOT_STORE_KEY":       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	"SHOPBOT_API_TOKEN":       "0123456789abcdef0123456789abcdef",
}

// dockerRunCheck runs `shopbot check` in the environment the README's
// docker run line gives the container: the image's ENV, the -e variables
// it lists (nothing else) and config.example.toml as the mounted config.
func dockerRunCheck(t *testing.T, root string, d dockerfile, bin string) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	run := regexp.MustCompile("(?s)```sh\n[^`]*?(docker run [^`]*?)```").FindSubmatch(readme)
	if run == nil {
		t.Fatal("README has no ```sh block with a docker run line")
	}
	mount := regexp.MustCompile(`-v \S+config\.toml:(\S+):ro`).FindSubmatch(run[1])
	if mount == nil {
		t.Fatalf("README's docker run mounts no config.toml:\n%s", run[1])
	}
	example, err := os.ReadFile(filepath.Join(root, "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgPath, example, 0o600); err != nil {
		t.Fatal(err)
	}
	if d.env["SHOPBOT_CONFIG"] != string(mount[1]) {
		t.Fatalf("the image reads SHOPBOT_CONFIG=%q but the README mounts the config at %q", d.env["SHOPBOT_CONFIG"], mount[1])
	}

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SHOPBOT_CONFIG=" + cfgPath}
	for k, v := range d.env {
		if k != "SHOPBOT_CONFIG" {
			env = append(env, k+"="+v)
		}
	}
	var names []string
	for _, m := range regexp.MustCompile(`-e ([A-Z0-9_]+)`).FindAllSubmatch(run[1], -1) {
		name := string(m[1])
		v, ok := readmeEnvValues[name]
		if !ok {
			t.Fatalf("README's docker run passes -e %s; give it a plausible value in readmeEnvValues", name)
		}
		env = append(env, name+"="+v)
		names = append(names, name)
	}
	cmd := exec.Command(bin, "check")
	cmd.Env = env
	cmd.Dir = t.TempDir() // the image's WORKDIR, the store volume
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shopbot check with the README's docker run environment (-e %s) failed: %v\n%s",
			strings.Join(names, " -e "), err, out)
	}
	if !bytes.Contains(out, []byte("config "+cfgPath+": ok")) {
		t.Fatalf("check output = %q", out)
	}

	// The non-root user can write the store without BuildKit: the classic
	// builder makes WORKDIR root-owned, so the directory is copied in
	// owned by distroless's nonroot uid.
	if !regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 \S+ /var/lib/shopbot/?$`).MatchString(d.text) {
		t.Error("the Dockerfile does not COPY --chown=65532:65532 the store directory /var/lib/shopbot")
	}
}

// demoFirstSeconds runs `shopbot demo` as a user does and reads what it
// prints in its first 5 seconds and on Ctrl-C: stdout holds only the line
// telling where to open the page, stderr only shopbot's own log lines,
// none a warning, and the Stripe catch-up succeeds.
func demoFirstSeconds(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outLines, errLines := readLines(stdout), readLines(stderr)

	var out, logs []string
	caughtUp := false
	window := time.After(5 * time.Second)
	for waiting := true; waiting; {
		select {
		case l, ok := <-outLines:
			if !ok {
				t.Fatalf("shopbot demo closed stdout early; logs:\n%s", strings.Join(logs, "\n"))
			}
			out = append(out, l)
		case l, ok := <-errLines:
			if !ok {
				t.Fatalf("shopbot demo exited early; logs:\n%s", strings.Join(logs, "\n"))
			}
			logs = append(logs, l)
			if strings.Contains(l, " level=WARN ") || strings.Contains(l, " level=ERROR ") {
				t.Fatalf("warning %.0fs after start: %s", time.Since(start).Seconds(), l)
			}
			caughtUp = caughtUp || strings.Contains(l, `msg="stripe catch-up done"`)
		case <-window:
			window = nil
		case <-ctx.Done():
			t.Fatalf("no \"stripe catch-up done\" within %s; logs:\n%s", time.Since(start), strings.Join(logs, "\n"))
		}
		waiting = window != nil || !caughtUp
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for l := range outLines {
		out = append(out, l)
	}
	for l := range errLines {
		logs = append(logs, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("shopbot demo after Ctrl-C: %v", err)
	}

	open := regexp.MustCompile(`^shopbot demo: open http://127\.0\.0\.1:\d+ in a browser \(Ctrl-C stops\)$`)
	if len(out) != 1 || !open.MatchString(out[0]) {
		t.Errorf("stdout = %q, want only the line saying where to open the page", out)
	}
	// The log names the address the person opens, not only the shop's
	// own listener on a random port.
	if page := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(strings.Join(out, "")); page == "" ||
		!slices.ContainsFunc(logs, func(l string) bool {
			return strings.Contains(l, `msg="shopbot running"`) && strings.Contains(l, " public_url="+page+" ")
		}) {
		t.Errorf("no \"shopbot running\" log line names the page %q as public_url", page)
	}
	own := regexp.MustCompile(`^time=\S+ level=(INFO|DEBUG) msg=`)
	for _, l := range logs {
		if !own.MatchString(l) {
			t.Errorf("stderr line is not one of shopbot's info logs: %q", l)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", strings.Join(logs, "\n"))
	}
}

// readLines sends r's lines on the channel and closes it at EOF.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}
