// SPDX-License-Identifier: Apache-2.0

package pii_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/guard/detectortest"
	"github.com/bulwarkai/bulwark/internal/guard/entity"
	"github.com/bulwarkai/bulwark/internal/guard/pii"
)

// hit is a finding rendered as its value, which makes tables readable.
type hit struct{ Type, Value string }

func find(t testing.TB, d *pii.Detector, text string) []hit {
	t.Helper()
	var out []hit
	for _, f := range d.Find(text, nil) {
		out = append(out, hit{f.Type, text[f.Start:f.End]})
	}
	return out
}

var findTests = []struct {
	name string
	text string
	want []hit
}{
	// E-mail.
	{"email", "mail john.doe+tag@example.co.uk.", []hit{{pii.Email, "john.doe+tag@example.co.uk"}}},
	{"email idn domain", "écris à marie@exämple.fr", []hit{{pii.Email, "marie@exämple.fr"}}},
	{"email punycode tld", "a@b.xn--p1ai", []hit{{pii.Email, "a@b.xn--p1ai"}}},
	{"email mailto", "<a href=\"mailto:ops@bulwark.dev\">", []hit{{pii.Email, "ops@bulwark.dev"}}},
	{"email leading dots trimmed", "...bob@x.io", []hit{{pii.Email, "bob@x.io"}}},
	{"email two", "a@x.io,b@y.io", []hit{{pii.Email, "a@x.io"}, {pii.Email, "b@y.io"}}},
	{"email url userinfo is not an email", "https://bob:hunter2@db.example.com", nil},
	{"email double dot", "john..doe@example.com", nil},

	// Phone, strong shapes.
	{"phone e164", "ring +447700900123 now", []hit{{pii.Phone, "+447700900123"}}},
	{"phone intl trunk", "+46 (0)8 928 571 38", []hit{{pii.Phone, "+46 (0)8 928 571 38"}}},
	{"phone intl glued trunk", "+44(0)20 7946 0958", []hit{{pii.Phone, "+44(0)20 7946 0958"}}},
	{"phone nanp paren", "(415) 555-0132", []hit{{pii.Phone, "(415) 555-0132"}}},
	{"phone nanp dots ext", "415.555.0132x12", []hit{{pii.Phone, "415.555.0132x12"}}},
	{"phone nanp 1 prefix", "1-800-555-0199", []hit{{pii.Phone, "1-800-555-0199"}}},
	{"phone nanp ext word", "555-867-5309 ext. 42", []hit{{pii.Phone, "555-867-5309 ext. 42"}}},
	{"phone nanp mixed seps is weak", "415-555.0132", nil},
	{"phone nanp bad area is weak", "155-555-0132", nil},

	// Phone, weak shapes with context.
	{"phone label before", "Phone: 0490 75 40 81", []hit{{pii.Phone, "0490 75 40 81"}}},
	{"phone label after", "416 60 039 office", []hit{{pii.Phone, "416 60 039"}}},
	{"phone label after dash", "(37) 788-063-Office", []hit{{pii.Phone, "(37) 788-063"}}},
	{"phone call me", "Can someone call me on 9472 7916?", []hit{{pii.Phone, "9472 7916"}}},
	{"phone bad nanp with context", "fax: 155-555-0132", []hit{{pii.Phone, "155-555-0132"}}},
	{"phone context not across numbers", "Phone: 1, order 0490 75 40 81", nil},
	{"phone date with context", "call on 2024-01-31", nil},
	{"phone house number", "call a taxi to 14 3684 Court Street", nil},

	// Cards.
	{"card visa spaced", "card 4111 1111 1111 1111 exp", []hit{{pii.CreditCard, "4111 1111 1111 1111"}}},
	{"card amex dashed", "3782-822463-10005", []hit{{pii.CreditCard, "3782-822463-10005"}}},
	{"card plain", "cc 5555555555554444", []hit{{pii.CreditCard, "5555555555554444"}}},
	{"card then expiry", "4111 1111 1111 1111 12/26", []hit{{pii.CreditCard, "4111 1111 1111 1111"}}},
	{"card 19 digits", "4131034282458809939", []hit{{pii.CreditCard, "4131034282458809939"}}},
	{"card in csv", "bob,4111111111111111,12/26", []hit{{pii.CreditCard, "4111111111111111"}}},
	{"card mixed separators", "4111 1111-1111 1111", nil},
	{"card inside longer run", "12345 4111111111111111", nil},

	// IBAN.
	{"iban electronic", "IBAN GB82WEST12345698765432.", []hit{{pii.IBAN, "GB82WEST12345698765432"}}},
	{"iban print", "GB82 WEST 1234 5698 7654 32 ok", []hit{{pii.IBAN, "GB82 WEST 1234 5698 7654 32"}}},
	{"iban lower", "gb82west12345698765432", []hit{{pii.IBAN, "gb82west12345698765432"}}},
	{"iban de", "DE89 3704 0044 0532 0130 00", []hit{{pii.IBAN, "DE89 3704 0044 0532 0130 00"}}},
	{"iban mixed case", "Gb82West12345698765432", nil},
	{"iban glued", "xGB82WEST12345698765432", nil},

	// SSN.
	{"ssn dashed", "SSN 536-22-1234", []hit{{pii.USSSN, "536-22-1234"}}},
	{"ssn spaced with context", "social security 536 22 1234", []hit{{pii.USSSN, "536 22 1234"}}},
	{"ssn plain with context", "ssn#536221234", []hit{{pii.USSSN, "536221234"}}},
	{"ssn plain without context", "id 536221234", nil},

	// IP.
	{"ipv4", "from 203.0.113.7:443", []hit{{pii.IPAddress, "203.0.113.7"}}},
	{"ipv4 private", "host 10.218.6.131", []hit{{pii.IPAddress, "10.218.6.131"}}},
	{"ipv4 cidr", "allow 192.168.1.0/24", []hit{{pii.IPAddress, "192.168.1.0"}}},
	{"ipv4 sentence end", "at 8.8.8.8.", []hit{{pii.IPAddress, "8.8.8.8"}}},
	{"ipv6 full", "6e40:4041:c617:e898:c11:40d2:c669:2eb4", []hit{{pii.IPAddress, "6e40:4041:c617:e898:c11:40d2:c669:2eb4"}}},
	{"ipv6 compressed", "via fe80::1ff:fe23:4567:890a.", []hit{{pii.IPAddress, "fe80::1ff:fe23:4567:890a"}}},
	{"ipv6 bracketed port", "http://[2001:db8::8a2e:370:7334]:8080/", []hit{{pii.IPAddress, "2001:db8::8a2e:370:7334"}}},
	{"ipv6 mapped v4", "::ffff:192.0.2.128", []hit{{pii.IPAddress, "::ffff:192.0.2.128"}}},

	// Mixed and overlaps.
	{
		"mixed",
		"Name: Ann, email ann@corp.io, phone +1-415-555-0132, card 4111-1111-1111-1111, from 198.51.100.4",
		[]hit{{pii.Email, "ann@corp.io"}, {pii.Phone, "+1-415-555-0132"}, {pii.CreditCard, "4111-1111-1111-1111"}, {pii.IPAddress, "198.51.100.4"}},
	},
	{"ssn beats phone", "phone: 536-22-1234", []hit{{pii.USSSN, "536-22-1234"}}},
	{"ip beats phone", "phone: 86.121.97.248", []hit{{pii.IPAddress, "86.121.97.248"}}},
}

func TestFind(t *testing.T) {
	d, err := pii.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range findTests {
		t.Run(tt.name, func(t *testing.T) {
			got := find(t, d, tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Find(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestFindAppendsToDst(t *testing.T) {
	d, err := pii.New()
	if err != nil {
		t.Fatal(err)
	}
	pre := []entity.Finding{{Start: 0, End: 1, Type: "X"}}
	got := d.Find("a@b.io", pre)
	want := []entity.Finding{{Start: 0, End: 1, Type: "X"}, {Start: 0, End: 6, Type: pii.Email}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Find mismatch (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		types   []string
		want    []string
		wantErr string
	}{
		{name: "all by default", want: []string{"EMAIL", "IBAN", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "PHONE"}},
		{name: "subset case-insensitive", types: []string{"phone", " Email "}, want: []string{"EMAIL", "PHONE"}},
		{name: "unknown", types: []string{"EMAIL", "PASSPORT"}, wantErr: `unknown pii type "PASSPORT" (valid: EMAIL, IBAN, CREDIT_CARD, US_SSN, IP_ADDRESS, PHONE)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := pii.New(tt.types...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("New(%q) error = %v, want %q", tt.types, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q) error = %v", tt.types, err)
			}
			if diff := cmp.Diff(tt.want, d.Types()); diff != "" {
				t.Errorf("Types() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTypeSubset(t *testing.T) {
	d, err := pii.New(pii.Email)
	if err != nil {
		t.Fatal(err)
	}
	text := "ann@corp.io 4111 1111 1111 1111 10.1.2.3"
	want := []hit{{pii.Email, "ann@corp.io"}}
	if diff := cmp.Diff(want, find(t, d, text)); diff != "" {
		t.Errorf("Find(%q) mismatch (-want +got):\n%s", text, diff)
	}
}

type lookalike struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

func readLookalikes(t testing.TB) []lookalike {
	t.Helper()
	f, err := os.Open("testdata/lookalikes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []lookalike
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r lookalike
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decoding lookalikes: %v", err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestLookalikes asserts zero findings on hand-written text that only
// looks like PII; see testdata/README.md.
func TestLookalikes(t *testing.T) {
	d, err := pii.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readLookalikes(t) {
		t.Run(r.Kind, func(t *testing.T) {
			if got := find(t, d, r.Text); len(got) != 0 {
				t.Errorf("Find(%q) = %v, want no findings", r.Text, got)
			}
		})
	}
}

func FuzzFind(f *testing.F) {
	for _, tt := range findTests {
		f.Add(tt.text)
	}
	f.Add("+(0)(1) 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 ::::ffff::1.2.3.4 @@a.b@c.de x1 ext")
	d, err := pii.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		detectortest.CheckFindings(t, d, text)
	})
}

// benchText builds ~2 KB of prose; dirty adds one value of every type.
func benchText(dirty bool) string {
	const para = "The quarterly report covers revenue, churn and the roadmap for 2025. " +
		"Our team shipped 14 features, fixed 230 bugs and reduced p99 latency by 35%. " +
		"Next steps: migrate the billing service, review the on-call rota, and plan Q3. "
	var b strings.Builder
	for b.Len() < 2048 {
		b.WriteString(para)
	}
	s := b.String()[:2048]
	if dirty {
		s = s[:1700] + " Contact ann@corp.io or +1-415-555-0132, card 4111 1111 1111 1111, " +
			"IBAN GB82WEST12345698765432, SSN 536-22-1234, host 203.0.113.7, fe80::1ff:fe23:4567:890a."
	}
	return s
}

func BenchmarkFind(b *testing.B) {
	d, err := pii.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		dirty bool
	}{{"clean-2KB", false}, {"dirty-2KB", true}} {
		detectortest.BenchFind(b, d, bc.name, benchText(bc.dirty), true)
	}
}

// BenchmarkFindPathological feeds inputs built to make a naive scanner
// rescan: every byte should still be looked at a bounded number of times.
func BenchmarkFindPathological(b *testing.B) {
	d, err := pii.New()
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 10
	for _, bc := range []struct{ name, unit string }{
		{"digits", "1 "},
		{"grouped", "1234 "},
		{"ats", "a@"},
		{"dotted", "1.2."},
		{"hex-colons", "ab:"},
		{"plus-parens", "+1 (2) "},
	} {
		detectortest.BenchFind(b, d, bc.name, strings.Repeat(bc.unit, size/len(bc.unit)), false)
	}
}

// FuzzLocality checks the MaxLen contract that streaming callers rely on:
// a finding depends only on nearby text, so scanning any window of the
// text reproduces exactly the findings that lie at least MaxLen inside
// the window (or touch the text's own ends), and adds none there.
func FuzzLocality(f *testing.F) {
	for _, tt := range findTests {
		f.Add(tt.text, uint16(7), uint16(3))
	}
	d, err := pii.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, unit string, a, b uint16) {
		detectortest.CheckLocality(t, d, unit, int(a), int(b))
	})
}
