// SPDX-License-Identifier: Apache-2.0

package secrets_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/guard/detectortest"
	"github.com/bulwarkai/bulwark/internal/guard/secrets"
)

// Test credentials are generated, not pasted: they have the right shape
// and entropy but were never issued, and keeping them out of the source
// stops repository secret scanners from tripping over this file.
const (
	b62    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64    = b62 + "+/"
	b64url = b62 + "_-"
	hexl   = "0123456789abcdef"
	b32    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lets   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
)

var seed uint64

// rnd returns n pseudo-random bytes of alphabet, different on every call
// but the same on every run.
func rnd(alphabet string, n int) string {
	seed++
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func b64j(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }

type hit struct{ Type, Value string }

func find(t testing.TB, d *secrets.Detector, text string) []hit {
	t.Helper()
	var out []hit
	for _, f := range d.Find(text, nil) {
		out = append(out, hit{f.Type, text[f.Start:f.End]})
	}
	return out
}

type findTest struct {
	name string
	text string
	want []hit
}

// one builds a case whose text embeds a single secret value.
func one(name, typ, format, value string) findTest {
	return findTest{name, strings.ReplaceAll(format, "%s", value), []hit{{typ, value}}}
}

func none(name, text string) findTest { return findTest{name, text, nil} }

func findTests() []findTest {
	seed = 0
	aws := "AKIA" + rnd(b32, 16)
	awsSecret := "wJa1rXUtnFEM/K7MDENG+bPxRfiCY" + rnd(b62, 11)
	jwtHeader := b64j(`{"alg":"HS256","typ":"JWT"}`)
	jwt := jwtHeader + "." + b64j(`{"sub":"1234567890","name":"Ann","iat":1516239022}`) + "." + rnd(b64url, 43)
	pemBody := rnd(b64, 64) + "\n" + rnd(b64, 64) + "\n" + rnd(b64, 20) + "=="
	rsa := "-----BEGIN RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----"
	ssh := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + pemBody + "\n-----END OPENSSH PRIVATE KEY-----"
	jsonKey := `-----BEGIN PRIVATE KEY-----\n` + rnd(b64, 64) + `\n` + rnd(b64, 64) + `\n-----END PRIVATE KEY-----\n`
	gh := "ghp_" + rnd(b62, 36)
	azureKey := rnd(b64, 86) + "=="
	sbKey := rnd(b64, 43) + "="
	return []findTest{
		// Cloud.
		one("aws access key", secrets.AWSAccessKey, "export AWS_ACCESS_KEY_ID=%s", aws),
		{"aws key pair csv", "Access key ID,Secret access key\n" + aws + "," + awsSecret + "\n",
			[]hit{{secrets.AWSAccessKey, aws}, {secrets.AWSSecretKey, awsSecret}}},
		one("aws secret assignment", secrets.AWSSecretKey, "aws_secret_access_key = %s\n", awsSecret),
		none("aws docs example", "AKIAIOSFODNN7EXAMPLE"),
		none("aws key id not upper base32", "AKIA"+strings.ToLower(rnd(b32, 16))),
		{"aws key near git sha", aws + " commit 3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c", []hit{{secrets.AWSAccessKey, aws}}},
		one("gcp api key", secrets.GCPAPIKey, `const key = "%s";`, "AIza"+rnd(b64url, 35)),
		{"gcp service account json", `{"type": "service_account", "private_key_id": "` + rnd(hexl, 40) + `", "private_key": "` + jsonKey + `", "client_email": "bot@proj.iam.gserviceaccount.com"}`,
			[]hit{{secrets.PrivateKey, strings.TrimSuffix(jsonKey, `\n`)}}},
		one("azure storage connection string", secrets.AzureStorageKey,
			"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=%s;EndpointSuffix=core.windows.net", azureKey),
		one("azure service bus", secrets.AzureSharedKey,
			"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s", sbKey),
		one("azure client secret", secrets.AzureClientSecret, "AZURE_CLIENT_SECRET=%s", "aB3"+"8Q~"+rnd(b62+"_~.-", 34)),

		// Tokens.
		one("github pat", secrets.GitHubToken, "token %s\n", gh),
		one("github oauth", secrets.GitHubToken, "gho: %s", "gho_"+rnd(b62, 36)),
		one("github fine-grained", secrets.GitHubToken, "%s", "github_pat_"+rnd(b62, 22)+"_"+rnd(b62, 59)),
		one("gitlab pat", secrets.GitLabToken, "PRIVATE-TOKEN: %s.", "glpat-"+rnd(b64url, 20)),
		one("slack bot", secrets.SlackToken, "SLACK_BOT_TOKEN=%s", "xoxb-"+rnd(digits, 11)+"-"+rnd(digits, 12)+"-"+rnd(b62, 24)),
		one("slack webhook", secrets.SlackWebhook, "POST https://%s", "hooks.slack.com/services/T"+rnd(b62, 8)+"/B"+rnd(b62, 10)+"/"+rnd(b62, 24)),
		one("stripe live", secrets.StripeKey, "Stripe.api_key = '%s'", "sk_live_"+rnd(b62, 24)),
		one("stripe restricted", secrets.StripeKey, "%s", "rk_live_"+rnd(b62, 99)),
		one("openai project", secrets.OpenAIAPIKey, "OPENAI_API_KEY=%s", "sk-proj-"+rnd(b64url, 156)),
		one("openai legacy", secrets.OpenAIAPIKey, "key: %s", "sk-"+rnd(b62, 20)+"T3BlbkFJ"+rnd(b62, 20)),
		one("anthropic", secrets.AnthropicAPIKey, `-H "x-api-key: %s"`, "sk-ant-api03-"+rnd(b64url, 93)+"AA"),
		one("huggingface", secrets.HuggingFaceToken, "HF_TOKEN=%s", "hf_"+rnd(lets, 34)),
		one("groq", secrets.GroqAPIKey, "%s", "gsk_"+rnd(b62, 52)),
		one("npm", secrets.NPMToken, "//registry.npmjs.org/:_authToken=%s", "npm_"+rnd(b62, 36)),
		one("sendgrid", secrets.SendGridAPIKey, "%s", "SG."+rnd(b64url, 22)+"."+rnd(b64url, 43)),
		one("twilio", secrets.TwilioAPIKey, "sid %s", "SK"+rnd(hexl, 32)),
		one("databricks", secrets.DatabricksToken, "%s", "dapi"+rnd(hexl, 32)),
		one("vault", secrets.VaultToken, "VAULT_TOKEN=%s", "hvs."+rnd(b64url, 95)),
		one("age", secrets.AgeSecretKey, "%s", "AGE-SECRET-KEY-1"+rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
		one("telegram", secrets.TelegramBotToken, "bot %s", "123456789:AA"+rnd(b64url, 33)),
		none("token glued to a word", "xghp_"+rnd(b62, 36)),
		none("token too long", "ghp_"+rnd(b62, 37)),
		none("slack placeholder", "xoxb-your-bot-token-goes-here"),
		none("sk prefix prose", "sk-learn is sk-image's cousin"),

		// PEM.
		one("pem rsa", secrets.PrivateKey, "key:\n%s\n", rsa),
		one("pem openssh", secrets.PrivateKey, "%s", ssh),
		one("pem truncated", secrets.PrivateKey, "here is half: %s", "-----BEGIN EC PRIVATE KEY-----\n"+rnd(b64, 64)+"\n"+rnd(b64, 30)),
		one("pem truncated then prose", secrets.PrivateKey, "%s\n\nwhat is wrong with it?", "-----BEGIN EC PRIVATE KEY-----\n"+rnd(b64, 64)+"\n"+rnd(b64, 30)),
		one("pem flattened", secrets.PrivateKey, "KEY=\"%s\"", "-----BEGIN PRIVATE KEY----- "+rnd(b64, 64)+" "+rnd(b64, 64)+" -----END PRIVATE KEY-----"),
		one("pem flattened truncated", secrets.PrivateKey, "%s and more words", "-----BEGIN PRIVATE KEY----- "+rnd(b64, 64)+" "+rnd(b64, 40)),
		one("pem legacy encrypted truncated", secrets.PrivateKey, "%s", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"+rnd(hexl, 32)+"\n\n"+rnd(b64, 64)),
		none("pem public", "-----BEGIN PUBLIC KEY-----\n"+pemBody+"\n-----END PUBLIC KEY-----"),

		// JWT.
		one("jwt", secrets.JWT, "Authorization: Bearer %s", jwt),
		one("jwt alg none", secrets.JWT, "%s then", b64j(`{"alg":"none"}`)+"."+b64j(`{"sub":"x","admin":true}`)+"."),
		none("jwt header not json", "eyJ"+rnd(b62, 20)+"."+"eyJ"+rnd(b62, 20)+"."+rnd(b62, 20)),
		none("jwt two parts", jwtHeader+"."+b64j(`{"sub":"1234567890"}`)),

		// URL credentials.
		one("url postgres", secrets.URLCredentials, "DATABASE_URL=postgres://admin:%s@db.internal:5432/app", "s3cr3tP4ss"),
		one("url redis empty user", secrets.URLCredentials, "redis://:%s@cache:6379/0", "pw123456"),
		one("url password with at", secrets.URLCredentials, "ftp://bob:%s@files.example.org/", "p@ss:w0rd"),
		one("url token as password", secrets.GitHubToken, "https://x-access-token:%s@github.com/o/r.git", gh),
		none("url placeholder", "mysql://root:${MYSQL_PASSWORD}@db/app"),

		// Assignments.
		one("env password", secrets.Password, "DB_PASSWORD=%s\n", "Xk9#mP2$vLq"),
		one("json password", secrets.Password, `{"user": "ann", "password": "%s"}`, "N0t-s0-S3cret!"),
		one("cli flag", secrets.Password, "mysql --password=%s -h db", "Xk9mP2vLqR"),
		one("yaml api key", secrets.GenericSecret, "api_key: %s\n", rnd(hexl, 32)),
		one("go token", secrets.GenericSecret, `token := "%s"`, rnd(b62, 24)),
		one("php arrow", secrets.GenericSecret, `'client_secret' => '%s',`, rnd(b62, 24)),
		one("bearer header", secrets.GenericSecret, `curl -H "Authorization: Bearer %s" https://api`, rnd(b62, 32)),
		one("basic header", secrets.GenericSecret, "Authorization: Basic %s", base64.StdEncoding.EncodeToString([]byte("ann:"+rnd(b62, 12)))),
		one("query string", secrets.GenericSecret, "GET /v1?access_token=%s&page=2", rnd(b62, 28)),
		{"assigned provider key keeps its type", `api_key = "` + "sk-proj-" + "ABCdef123456" + rnd(b64url, 60) + `"`, nil},
		none("low entropy password", "password=hunter2"),
		none("repeated", `password = "aaaaaaaaaaaa"`),
		none("code reference", "password = settings.db.password"),
		none("comparison", `if password == "Xk9#mP2$vLq" {`),
		none("hash key", "password_hash: "+rnd(hexl, 64)),
	}
}

func TestFind(t *testing.T) {
	d, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range findTests() {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if tt.name == "assigned provider key keeps its type" {
				v := tt.text[strings.Index(tt.text, `"`)+1 : len(tt.text)-1]
				want = []hit{{secrets.OpenAIAPIKey, v}}
			}
			got := find(t, d, tt.text)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Find(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestNew(t *testing.T) {
	d, err := secrets.New("jwt", "PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{secrets.JWT, secrets.Password}, d.Types()); diff != "" {
		t.Errorf("Types() mismatch (-want +got):\n%s", diff)
	}
	text := "ghp_" + rnd(b62, 36) + " password=Xk9#mP2$vLq token=" + rnd(b62, 24)
	want := []hit{{secrets.Password, "Xk9#mP2$vLq"}}
	if diff := cmp.Diff(want, find(t, d, text)); diff != "" {
		t.Errorf("Find(%q) mismatch (-want +got):\n%s", text, diff)
	}
	if _, err := secrets.New("JWT", "BOGUS"); err == nil || !strings.Contains(err.Error(), `unknown secret type "BOGUS" (valid: PRIVATE_KEY, AWS_ACCESS_KEY,`) {
		t.Errorf(`New("JWT", "BOGUS") error = %v, want unknown type listing valid names`, err)
	}
}

// TestLookalikes asserts zero findings on the shared hand-written
// look-alike file (../pii/testdata/lookalikes.jsonl, see its README).
func TestLookalikes(t *testing.T) {
	d, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../pii/testdata/lookalikes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ Kind, Text string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		t.Run(r.Kind, func(t *testing.T) {
			if got := find(t, d, r.Text); len(got) != 0 {
				t.Errorf("Find(%q) = %v, want no findings", r.Text, got)
			}
		})
	}
}

func FuzzFind(f *testing.F) {
	for _, tt := range findTests() {
		f.Add(tt.text)
	}
	f.Add("a:=b=>c:://:@@-----BEGIN X PRIVATE KEY-----~Q~eyJ.eyJ.\\n")
	d, err := secrets.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		detectortest.CheckFindings(t, d, text)
	})
}

func benchText(dirty bool) string {
	const para = "Please review the deployment plan: we roll out the gateway to staging on Monday, " +
		"run the load test (target: 2k rps, p99 < 300ms) and compare against last week's baseline. " +
		"Config lives in deploy/values.yaml; the on-call engineer signs off before prod. "
	var b strings.Builder
	for b.Len() < 2048 {
		b.WriteString(para)
	}
	s := b.String()[:2048]
	if dirty {
		seed = 1000
		s = s[:1500] + "\nOPENAI_API_KEY=sk-proj-" + rnd(b64url, 60) + "\ngh: ghp_" + rnd(b62, 36) +
			"\nDATABASE_URL=postgres://app:" + rnd(b62, 16) + "@db:5432/app\npassword: " + rnd(b62, 14) +
			"\nAKIA" + rnd(b32, 16) + "\n"
	}
	return s
}

func BenchmarkFind(b *testing.B) {
	d, err := secrets.New()
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
	d, err := secrets.New()
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 10
	for _, bc := range []struct{ name, unit string }{
		{"jwt-starts", "ey-"},
		{"jwt-headers", b64j(`{"alg":"none"}`) + "."},
		{"token-prefixes", "sk-"},
		{"assignments", "token="},
		{"pem-begins", "-----BEGIN RSA PRIVATE KEY-----\n"},
		{"url-schemes", "a://b:c@"},
		{"colons", "a:"},
	} {
		detectortest.BenchFind(b, d, bc.name, strings.Repeat(bc.unit, size/len(bc.unit)), false)
	}
}

// FuzzLocality checks the MaxLen contract that streaming callers rely on:
// a finding depends only on nearby text, so scanning any window of the
// text reproduces exactly the findings that lie at least MaxLen inside
// the window (or touch the text's own ends), and adds none there.
func FuzzLocality(f *testing.F) {
	for _, tt := range findTests() {
		f.Add(tt.text, uint16(7), uint16(3))
	}
	// PEM and JWT windows are 12 and 8 KB; without them MaxLen is ~1 KB
	// and the fuzzer can run thousands of cases a second.
	var types []string
	for _, typ := range secrets.Types() {
		if typ != secrets.PrivateKey && typ != secrets.JWT {
			types = append(types, typ)
		}
	}
	d, err := secrets.New(types...)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, unit string, a, b uint16) {
		detectortest.CheckLocality(t, d, unit, int(a), int(b))
	})
}

// TestLocalityLongWindows runs the FuzzLocality check with PEM blocks and
// JWTs enabled, on a few texts (each check scans ~80 KB).
func TestLocalityLongWindows(t *testing.T) {
	d, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range findTests() {
		if len(tt.want) == 0 || tt.want[0].Type != secrets.PrivateKey && tt.want[0].Type != secrets.JWT {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			for _, ab := range [][2]int{{0, 0}, {7, 3}, {1000, 9999}, {12345, 17}} {
				detectortest.CheckLocality(t, d, tt.text, ab[0], ab[1])
			}
		})
	}
}
