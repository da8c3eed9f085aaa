package report

import (
	"context"
	"html"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findChromium returns a headless-capable browser binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromium runs the browser headless and offline on page with extra
// arguments and returns its stdout.
func chromium(t *testing.T, bin, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium failed: %s", stderr.String())
	return out
}

var (
	reInvisible = regexp.MustCompile(`(?is)<(style|head)\b.*?</(style|head)>`)
	reTag       = regexp.MustCompile(`(?s)<[^>]*>`)
	reSpace     = regexp.MustCompile(`\s+`)
)

// visibleText is the DOM's text without styles, tags or markup, as a
// person would read it.
func visibleText(dom string) string {
	s := reInvisible.ReplaceAllString(dom, " ")
	s = reTag.ReplaceAllString(s, " ")
	return reSpace.ReplaceAllString(html.UnescapeString(s), " ")
}

// TestChromiumRendersTheReport opens the report of the failed run in
// headless Chromium: the DOM Chromium built must carry the stage names,
// statuses, retry delays and reasons as text and no script element, and a
// screenshot at 1280 px must show a drawn page with the timeline's bars.
func TestChromiumRendersTheReport(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install -y chromium)")
	}
	fx := runFixture(t)
	page := filepath.Join(t.TempDir(), "report_r1.html")
	require.NoError(t, Write(fx.StateDir, "r1", page))

	dom := string(chromium(t, bin, page, "--dump-dom"))
	require.Contains(t, dom, "</html>", "dump-dom returned no document")
	assert.NotContains(t, strings.ToLower(dom), "<script", "markup from a stage error became an element")
	text := visibleText(dom)
	for _, s := range []string{
		"demo", "r1", "failed",
		"stage_copy", "stage_flaky", "stage_upper", "stage_crash", "stage_bad", "stage_after",
		"succeeded", "transient", "blocked by stage_bad",
		"wait 150 ms", "wait 300 ms", "wait 100 ms",
		"no completion marker (never completed)", "upstream stage stage_bad did not succeed",
		"bin/<script>alert(1)</script> is not executable", // the error, shown as text
		"Enforcement", "cgroup v1", "Policy verdict", "Audit chain head",
	} {
		assert.Contains(t, text, s)
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	chromium(t, bin, page, "--window-size=1280,2000", "--screenshot="+shot)
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	b := img.Bounds()
	assert.Equal(t, 1280, b.Dx())
	assert.Equal(t, 2000, b.Dy())
	var nonWhite, green, amber, red int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.R < 245 || c.G < 245 || c.B < 245 {
				nonWhite++
			}
			switch {
			case near(c, 0x2d, 0xa4, 0x4e): // succeeded bar
				green++
			case near(c, 0xd4, 0xa7, 0x2c): // transient bar
				amber++
			case near(c, 0xcf, 0x22, 0x2e): // failed badge text and borders
				red++
			}
		}
	}
	total := b.Dx() * b.Dy()
	t.Logf("screenshot: %d of %d pixels not white, bar pixels green %d amber %d, red %d", nonWhite, total, green, amber, red)
	assert.Greater(t, nonWhite, total/20, "the page looks blank")
	// Four green bars (copy, flaky #3, upper, legend) and four amber ones
	// (flaky #1 #2, crash #1 #2, legend) of 16 px height.
	assert.Greater(t, green, 4*16*4, "no succeeded bars drawn")
	assert.Greater(t, amber, 4*16*4, "no transient bars drawn")
	assert.Greater(t, red, 50, "no failed status drawn")
}

func near(c color.NRGBA, r, g, b uint8) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(c.R, r) <= 6 && d(c.G, g) <= 6 && d(c.B, b) <= 6
}
