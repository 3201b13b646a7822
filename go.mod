module github.com/marginhq/margin

go 1.26

require (
	github.com/stripe/stripe-go/v76 v76.25.0
	gopkg.in/yaml.v3 v3.0.1
)
