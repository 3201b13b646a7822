package engine

// The label values every front end shows for what has no id of its own: the exporter's label
// values, the report's and the views' rows, and plugin/src/types.ts (the frontend contract test
// reads this block) all take them from here.
const (
	// CustomerUnattributed is the customer of spend no source mapping resolved to a customer.
	CustomerUnattributed = "unattributed"
	// CustomerOther is the customer the exporter folds customers beyond max_customers into.
	CustomerOther = "other"
	// OtherModel is the model of billed cost that names no model (tools, storage, web search).
	// It shares the word with CustomerOther, never the label: one is a model, one a customer.
	OtherModel = "other"
	// NoPlan is the plan of customers Stripe lists without one.
	NoPlan = "none"
	// UnassignedFeature is the feature of spend on sources no feature mapping names.
	UnassignedFeature = "unassigned"
)

// Defaults the engine applies to Options left zero; internal/config and the plugin's settings
// start from them.
const (
	DefaultCurrency     = "usd" // the reporting currency
	DefaultBackfillDays = 31    // the complete UTC days read on a first run
)
