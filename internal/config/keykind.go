package config

import "strings"

// keyKindProblem says why key, configured for source ("openai", "anthropic", "openrouter",
// "stripe"), is the wrong kind of key by its prefix: which kind it is, which kind is needed and
// where to create one. It returns "" when the prefix is right or says nothing. The message never
// contains the key.
func keyKindProblem(source, key string) string {
	switch source {
	case "openai":
		if strings.HasPrefix(key, "sk-admin-") || !strings.HasPrefix(key, "sk-") {
			return ""
		}
		kind := "an OpenAI API key (sk-…)"
		switch {
		case strings.HasPrefix(key, "sk-proj-"):
			kind = "an OpenAI project API key (sk-proj-…)"
		case strings.HasPrefix(key, "sk-svcacct-"):
			kind = "an OpenAI service account key (sk-svcacct-…)"
		}
		return "this is " + kind + ", which cannot read the organization's usage and costs; use an Admin key " +
			"(sk-admin-…), created by an organization owner at https://platform.openai.com/settings/organization/admin-keys"
	case "anthropic":
		if !strings.HasPrefix(key, "sk-ant-api") {
			return ""
		}
		return "this is an Anthropic API key (sk-ant-api…), which cannot read the Usage and Cost API; use an Admin key " +
			"(sk-ant-admin…), created by an organization admin at https://console.anthropic.com/settings/admin-keys"
	case "stripe":
		if !strings.HasPrefix(key, "pk_") {
			return ""
		}
		return "this is a Stripe publishable key (pk_…), which cannot read anything; use a restricted key (rk_…) with read " +
			"access to customers, subscriptions, products, invoices and credit notes, created at https://dashboard.stripe.com/apikeys"
	}
	// OpenRouter's management and inference keys share the sk-or-v1- prefix: only the API can tell.
	return ""
}
