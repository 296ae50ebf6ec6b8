// SPDX-License-Identifier: Apache-2.0

package secrets

import "strings"

// Entity types reported by this package.
const (
	AWSAccessKey      = "AWS_ACCESS_KEY"
	AWSSecretKey      = "AWS_SECRET_KEY"
	GCPAPIKey         = "GCP_API_KEY"
	AzureStorageKey   = "AZURE_STORAGE_KEY"
	AzureSharedKey    = "AZURE_SHARED_KEY"
	AzureClientSecret = "AZURE_CLIENT_SECRET"
	GitHubToken       = "GITHUB_TOKEN"
	GitLabToken       = "GITLAB_TOKEN"
	SlackToken        = "SLACK_TOKEN"
	SlackWebhook      = "SLACK_WEBHOOK"
	StripeKey         = "STRIPE_KEY"
	OpenAIAPIKey      = "OPENAI_API_KEY"
	AnthropicAPIKey   = "ANTHROPIC_API_KEY"
	HuggingFaceToken  = "HUGGINGFACE_TOKEN"
	GroqAPIKey        = "GROQ_API_KEY"
	XAIAPIKey         = "XAI_API_KEY"
	PerplexityAPIKey  = "PERPLEXITY_API_KEY"
	ReplicateAPIToken = "REPLICATE_API_TOKEN"
	LangSmithAPIKey   = "LANGSMITH_API_KEY"
	NPMToken          = "NPM_TOKEN"
	PyPIToken         = "PYPI_TOKEN"
	SendGridAPIKey    = "SENDGRID_API_KEY"
	TwilioAPIKey      = "TWILIO_API_KEY"
	ShopifyToken      = "SHOPIFY_TOKEN"
	DigitalOceanToken = "DIGITALOCEAN_TOKEN"
	DatabricksToken   = "DATABRICKS_TOKEN"
	VaultToken        = "VAULT_TOKEN"
	LinearAPIKey      = "LINEAR_API_KEY"
	PostmanAPIKey     = "POSTMAN_API_KEY"
	GrafanaToken      = "GRAFANA_TOKEN"
	AtlassianAPIToken = "ATLASSIAN_API_TOKEN"
	NotionToken       = "NOTION_TOKEN"
	SentryToken       = "SENTRY_TOKEN"
	DopplerToken      = "DOPPLER_TOKEN"
	AgeSecretKey      = "AGE_SECRET_KEY"
	TelegramBotToken  = "TELEGRAM_BOT_TOKEN"
	PrivateKey        = "PRIVATE_KEY"
	JWT               = "JWT"
	URLCredentials    = "URL_CREDENTIALS"
	Password          = "PASSWORD"
	GenericSecret     = "GENERIC_SECRET"
)

// allTypes is in merge-preference order: provider-specific types first,
// the context-driven generic ones last, so that when two rules claim the
// same bytes the more specific name wins.
var allTypes = []string{
	PrivateKey, AWSAccessKey, AWSSecretKey, GCPAPIKey, AzureStorageKey, AzureSharedKey,
	AzureClientSecret, GitHubToken, GitLabToken, SlackToken, SlackWebhook, StripeKey,
	OpenAIAPIKey, AnthropicAPIKey, HuggingFaceToken, GroqAPIKey, XAIAPIKey, PerplexityAPIKey,
	ReplicateAPIToken, LangSmithAPIKey, NPMToken, PyPIToken, SendGridAPIKey, TwilioAPIKey,
	ShopifyToken, DigitalOceanToken, DatabricksToken, VaultToken, LinearAPIKey, PostmanAPIKey,
	GrafanaToken, AtlassianAPIToken, NotionToken, SentryToken, DopplerToken, AgeSecretKey,
	TelegramBotToken, JWT, URLCredentials, Password, GenericSecret,
}

// tokenRule is a provider token: a literal prefix at a word start, then a
// body of min..max bytes from one class, ending at a non-word byte.
type tokenRule struct {
	typ    string
	prefix string
	body   *charClass
	min    int
	max    int
	// minEntropy is a floor on the body's Shannon entropy, which weeds out
	// placeholders such as ghp_000000... and sk-aaaa...; 0 disables it.
	minEntropy float64
	// check, if set, validates the body further.
	check func(body string) bool
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if letters.has(s[i]) {
			return true
		}
	}
	return false
}

func digitAndLetter(s string) bool { return hasDigit(s) && hasLetter(s) }

func sepAt(i int, sep byte) func(string) bool {
	return func(s string) bool { return len(s) > i && s[i] == sep }
}

// tokenRules is adapted from gitleaks' config/gitleaks.toml (MIT; see
// NOTICE) and the providers' own documentation. Lengths are exact where the
// provider fixes them and generous where formats have changed over time.
var tokenRules = []tokenRule{
	// AWS access key IDs: a four-letter type prefix and 16 base32 bytes.
	// AKIAIOSFODNN7EXAMPLE and friends from AWS's docs are not reported.
	{typ: AWSAccessKey, prefix: "AKIA", body: upperB32, min: 16, max: 16, minEntropy: 2.5, check: notExample},
	{typ: AWSAccessKey, prefix: "ASIA", body: upperB32, min: 16, max: 16, minEntropy: 2.5, check: notExample},
	{typ: AWSAccessKey, prefix: "ABIA", body: upperB32, min: 16, max: 16, minEntropy: 2.5, check: notExample},
	{typ: AWSAccessKey, prefix: "ACCA", body: upperB32, min: 16, max: 16, minEntropy: 2.5, check: notExample},
	// Google API keys (GCP, Firebase, Maps, Gemini): AIza + 35.
	{typ: GCPAPIKey, prefix: "AIza", body: alnumUSD, min: 35, max: 35, minEntropy: 3},

	{typ: GitHubToken, prefix: "ghp_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: GitHubToken, prefix: "gho_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: GitHubToken, prefix: "ghu_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: GitHubToken, prefix: "ghs_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: GitHubToken, prefix: "ghr_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: GitHubToken, prefix: "github_pat_", body: alnumUS, min: 82, max: 82, minEntropy: 3},
	{typ: GitLabToken, prefix: "glpat-", body: alnumUSDD, min: 20, max: 300, minEntropy: 3},
	{typ: GitLabToken, prefix: "glrt-", body: alnumUSDD, min: 20, max: 300, minEntropy: 3},
	{typ: GitLabToken, prefix: "gldt-", body: alnumUSD, min: 20, max: 64, minEntropy: 3},

	// Slack: bot, user, app-level, legacy and refresh tokens. Real ones
	// always carry numeric team/user ids, which rules out xoxb-your-token.
	{typ: SlackToken, prefix: "xoxb-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxp-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxa-", body: alnumUSD, min: 10, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxr-", body: alnumUSD, min: 10, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxs-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxo-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxe-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxe.xoxb-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xoxe.xoxp-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackToken, prefix: "xapp-", body: alnumUSD, min: 20, max: 300, check: hasDigit},
	{typ: SlackWebhook, prefix: "hooks.slack.com/services/", body: base64Std, min: 40, max: 80, check: hasDigit},
	{typ: SlackWebhook, prefix: "hooks.slack.com/workflows/", body: base64Std, min: 40, max: 80, check: hasDigit},
	{typ: SlackWebhook, prefix: "hooks.slack.com/triggers/", body: base64Std, min: 40, max: 80, check: hasDigit},

	// Stripe secret and restricted keys (publishable pk_ keys are public).
	{typ: StripeKey, prefix: "sk_live_", body: alnum, min: 16, max: 247, minEntropy: 3},
	{typ: StripeKey, prefix: "rk_live_", body: alnum, min: 16, max: 247, minEntropy: 3},
	{typ: StripeKey, prefix: "sk_test_", body: alnum, min: 16, max: 247, minEntropy: 3},
	{typ: StripeKey, prefix: "rk_test_", body: alnum, min: 16, max: 247, minEntropy: 3},

	// OpenAI project, service-account and admin keys, and the legacy
	// sk-<48> form. Plain sk-<32+> is also what many OpenAI-compatible
	// providers (DeepSeek, Moonshot, local gateways) issue, so it is
	// reported under the same type.
	{typ: OpenAIAPIKey, prefix: "sk-proj-", body: alnumUSD, min: 40, max: 300, minEntropy: 3.5},
	{typ: OpenAIAPIKey, prefix: "sk-svcacct-", body: alnumUSD, min: 40, max: 300, minEntropy: 3.5},
	{typ: OpenAIAPIKey, prefix: "sk-admin-", body: alnumUSD, min: 40, max: 300, minEntropy: 3.5},
	{typ: OpenAIAPIKey, prefix: "sk-None-", body: alnumUSD, min: 40, max: 300, minEntropy: 3.5},
	{typ: OpenAIAPIKey, prefix: "sk-", body: alnumUSD, min: 32, max: 300, minEntropy: 3.5, check: digitAndLetter},
	{typ: AnthropicAPIKey, prefix: "sk-ant-", body: alnumUSD, min: 32, max: 300, minEntropy: 3.5},
	{typ: HuggingFaceToken, prefix: "hf_", body: alnum, min: 34, max: 34, minEntropy: 3},
	{typ: HuggingFaceToken, prefix: "api_org_", body: alnum, min: 34, max: 34, minEntropy: 3},
	{typ: GroqAPIKey, prefix: "gsk_", body: alnum, min: 52, max: 52, minEntropy: 3.5},
	{typ: XAIAPIKey, prefix: "xai-", body: alnum, min: 80, max: 80, minEntropy: 3.5},
	{typ: PerplexityAPIKey, prefix: "pplx-", body: alnum, min: 48, max: 48, minEntropy: 3.5},
	{typ: ReplicateAPIToken, prefix: "r8_", body: alnum, min: 30, max: 40, minEntropy: 3.5},
	{typ: LangSmithAPIKey, prefix: "lsv2_pt_", body: alnumUS, min: 43, max: 43, minEntropy: 3, check: sepAt(32, '_')},
	{typ: LangSmithAPIKey, prefix: "lsv2_sk_", body: alnumUS, min: 43, max: 43, minEntropy: 3, check: sepAt(32, '_')},

	{typ: NPMToken, prefix: "npm_", body: alnum, min: 36, max: 36, minEntropy: 3},
	{typ: PyPIToken, prefix: "pypi-AgEIcHlwaS5vcmc", body: alnumUSD, min: 50, max: 1000, minEntropy: 3},
	{typ: SendGridAPIKey, prefix: "SG.", body: alnumUSDD, min: 66, max: 66, minEntropy: 3, check: sepAt(22, '.')},
	{typ: TwilioAPIKey, prefix: "SK", body: hexAny, min: 32, max: 32, minEntropy: 3, check: digitAndLetter},
	{typ: ShopifyToken, prefix: "shpat_", body: hexAny, min: 32, max: 32, minEntropy: 3},
	{typ: ShopifyToken, prefix: "shpca_", body: hexAny, min: 32, max: 32, minEntropy: 3},
	{typ: ShopifyToken, prefix: "shppa_", body: hexAny, min: 32, max: 32, minEntropy: 3},
	{typ: ShopifyToken, prefix: "shpss_", body: hexAny, min: 32, max: 32, minEntropy: 3},
	{typ: DigitalOceanToken, prefix: "dop_v1_", body: hexLower, min: 64, max: 64, minEntropy: 3},
	{typ: DigitalOceanToken, prefix: "doo_v1_", body: hexLower, min: 64, max: 64, minEntropy: 3},
	{typ: DigitalOceanToken, prefix: "dor_v1_", body: hexLower, min: 64, max: 64, minEntropy: 3},
	{typ: DatabricksToken, prefix: "dapi", body: hexLower, min: 32, max: 32, minEntropy: 3},
	{typ: VaultToken, prefix: "hvs.", body: alnumUSD, min: 90, max: 120, minEntropy: 3.5},
	{typ: VaultToken, prefix: "hvb.", body: alnumUSD, min: 138, max: 300, minEntropy: 3.5},
	{typ: LinearAPIKey, prefix: "lin_api_", body: alnum, min: 40, max: 40, minEntropy: 3},
	{typ: PostmanAPIKey, prefix: "PMAK-", body: newClass("a-fA-F0-9-"), min: 59, max: 59, minEntropy: 3, check: sepAt(24, '-')},
	{typ: GrafanaToken, prefix: "glc_", body: base64Pad, min: 32, max: 400, minEntropy: 3},
	{typ: GrafanaToken, prefix: "glsa_", body: alnumUS, min: 41, max: 41, minEntropy: 3, check: sepAt(32, '_')},
	{typ: AtlassianAPIToken, prefix: "ATATT3", body: newClass("A-Za-z0-9_=-"), min: 180, max: 200, minEntropy: 3.5},
	{typ: NotionToken, prefix: "ntn_", body: alnum, min: 46, max: 46, minEntropy: 3},
	{typ: SentryToken, prefix: "sntryu_", body: hexLower, min: 64, max: 64, minEntropy: 3},
	{typ: DopplerToken, prefix: "dp.pt.", body: alnum, min: 43, max: 43, minEntropy: 3},
	{typ: AgeSecretKey, prefix: "AGE-SECRET-KEY-1", body: bech32Up, min: 58, max: 58},
}

// notExample skips the example credentials printed throughout AWS's
// documentation (AKIAIOSFODNN7EXAMPLE).
func notExample(body string) bool { return !strings.Contains(body, "EXAMPLE") }

// match tries the rule at word start w.
func (r *tokenRule) match(text string, w int, runs *runCache) (end int, ok bool) {
	if !strings.HasPrefix(text[w:], r.prefix) {
		return 0, false
	}
	b := w + len(r.prefix)
	e := min(runs.runEnd(text, b, r.body), b+r.max+1)
	if e-b > r.max || e < len(text) && isWord(text[e]) {
		return 0, false // longer than the format allows, or glued to a word
	}
	// A '.' in the body class must not swallow the full stop after the
	// token.
	if r.body.has('.') {
		for e > b && text[e-1] == '.' {
			e--
		}
	}
	if e-b < r.min {
		return 0, false
	}
	body := text[b:e]
	if r.minEntropy > 0 && entropy(body) < r.minEntropy {
		return 0, false
	}
	if r.check != nil && !r.check(body) {
		return 0, false
	}
	return e, true
}
