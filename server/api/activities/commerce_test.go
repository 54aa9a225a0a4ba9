package activities_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

func TestCommerces(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "MANAGE_COMMERCES")
	c := env.Activities(t, key)
	ext, street, lat := "C-1", "Av. Siempre Viva 742", 10.5
	primary := true
	res, err := c.CreateCommerceWithResponse(ctx, nil, activitiesclient.CreateCommerceRequest{Name: "Almacen Don Pepe", ExternalId: &ext,
		Addresses: &[]activitiesclient.AddressInput{{Street: street, Latitude: &lat, IsPrimary: &primary}}})
	if err != nil || res.JSON201 == nil || len(res.JSON201.Addresses) != 1 || res.JSON201.Addresses[0].Latitude.MustGet() != lat || !res.JSON201.IsActive {
		t.Fatalf("create: %v %s", err, res.Body)
	}
	id := res.JSON201.Id
	if dup, _ := c.CreateCommerceWithResponse(ctx, nil, activitiesclient.CreateCommerceRequest{Name: "Other", ExternalId: &ext}); dup.JSON409 == nil {
		t.Fatalf("duplicate external id: %d %s", dup.StatusCode(), dup.Body)
	}
	name := "Almacen Don Pepe II"
	up, err := c.UpdateCommerceWithResponse(ctx, id, nil, activitiesclient.UpdateCommerceRequest{Name: &name})
	if err != nil || up.JSON200 == nil || up.JSON200.Name != name || up.JSON200.ExternalId.MustGet() != ext {
		t.Fatalf("update: %v %s", err, up.Body)
	}
	got, _ := c.GetCommerceWithResponse(ctx, id, nil)
	if got.JSON200 == nil || got.JSON200.Name != name || got.JSON200.Users == nil {
		t.Fatalf("get: %s", got.Body)
	}
	for i := range 3 {
		e := fmt.Sprint("X-", i)
		res, err := c.CreateCommerceWithResponse(ctx, nil, activitiesclient.CreateCommerceRequest{Name: fmt.Sprint("Kiosko ", i), ExternalId: &e})
		if err != nil {
			t.Fatal(err)
		}
		if res.JSON201 == nil {
			t.Fatalf("create commerce %d: %d %s", i, res.StatusCode(), res.Body)
		}
	}
	search, perPage := "kiosko", 2
	list, err := c.ListCommercesWithResponse(ctx, &activitiesclient.ListCommercesParams{Search: &search, PerPage: &perPage})
	if err != nil || list.JSON200 == nil || list.JSON200.Meta.Total != 3 || len(list.JSON200.Data) != 2 || list.JSON200.Meta.TotalPages != 2 {
		t.Fatalf("search: %v %s", err, list.Body)
	}
	search = "c-1"
	if list, _ = c.ListCommercesWithResponse(ctx, &activitiesclient.ListCommercesParams{Search: &search}); list.JSON200.Meta.Total != 1 {
		t.Fatalf("search by external id: %s", list.Body)
	}
	viewer := env.Key(t, ws, "VIEW_ACTIVITIES")
	if status, _ := env.Do(t, "GET", "/api/commerces", "", "x-api-key", viewer); status != 403 {
		t.Fatalf("without MANAGE_COMMERCES: %d", status)
	}
}

// TestSyncCommerces upserts a batch of 5,000 in one call, then updates part of it, with
// per-item errors.
func TestSyncCommerces(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "MANAGE_COMMERCES", "SYNC_COMMERCES")
	items := make([]string, 0, 5000)
	for i := range 5000 {
		items = append(items, fmt.Sprintf(`{"external_id":"E%05d","name":"Commerce %d","metadata":{"zone":%d}}`, i, i, i%7))
	}
	status, body := env.Do(t, "POST", "/api/commerces/sync", `{"commerces":[`+strings.Join(items, ",")+`]}`, "x-api-key", key)
	var r struct{ Created, Updated, Failed int }
	_ = json.Unmarshal(body, &r)
	if status != 200 || r.Created != 5000 || r.Updated != 0 || r.Failed != 0 {
		t.Fatalf("first sync: %d %s", status, body[:min(len(body), 300)])
	}
	status, body = env.Do(t, "POST", "/api/commerces/sync", `{"commerces":[
		{"external_id":"E00001","name":"Renamed"},
		{"external_id":"NEW","name":"New one"},
		{"name":"no id"},
		{"external_id":"E00002"},
		{"external_id":"NEW","name":"twice"}]}`, "x-api-key", key)
	var r2 struct {
		Created, Updated, Failed int
		Errors                   []struct{ Index int }
	}
	_ = json.Unmarshal(body, &r2)
	if status != 200 || r2.Created != 1 || r2.Updated != 1 || r2.Failed != 3 || r2.Errors[0].Index != 2 || r2.Errors[2].Index != 4 {
		t.Fatalf("second sync: %d %s", status, body)
	}
	var name string
	_ = env.DB.SQL().Get(&name, `SELECT name FROM commerces WHERE external_id = 'E00001'`)
	if name != "Renamed" {
		t.Fatalf("name after sync = %q", name)
	}
	// maxLength counts characters, as the spec's validation does: 300 "ñ" (600 bytes) is a name.
	long := strings.Repeat("ñ", 300)
	status, body = env.Do(t, "POST", "/api/commerces/sync", `{"commerces":[{"external_id":"`+long[:400]+`","name":"`+long+`"}]}`, "x-api-key", key)
	if err := json.Unmarshal(body, &r); err != nil || status != 200 || r.Created != 1 || r.Failed != 0 {
		t.Fatalf("sync of long names: %d %s", status, body)
	}
}
