// Package gen holds the code oapi-codegen generates from the hand-written specs in openapi/:
// one package per surface with its models and Echo strict server, and one typed client
// package per surface. Nothing here is edited by hand; run `make generate`.
package gen

//go:generate go tool oapi-codegen -config activities/config.yaml ../openapi/activities.yaml
//go:generate go tool oapi-codegen -config activitiesclient/config.yaml ../openapi/activities.yaml
//go:generate go tool oapi-codegen -config admin/config.yaml ../openapi/admin.yaml
//go:generate go tool oapi-codegen -config adminclient/config.yaml ../openapi/admin.yaml
//go:generate go tool oapi-codegen -config channels/config.yaml ../openapi/channels.yaml
//go:generate go tool oapi-codegen -config channelsclient/config.yaml ../openapi/channels.yaml
//go:generate go tool oapi-codegen -config calling/config.yaml ../openapi/calling.yaml
//go:generate go tool oapi-codegen -config callingclient/config.yaml ../openapi/calling.yaml
//go:generate go tool oapi-codegen -config webhooks/config.yaml ../openapi/webhooks.yaml
//go:generate go tool oapi-codegen -config webhooksclient/config.yaml ../openapi/webhooks.yaml
//go:generate go tool oapi-codegen -config ingest/config.yaml ../openapi/ingest.yaml
//go:generate go tool oapi-codegen -config ingestclient/config.yaml ../openapi/ingest.yaml
