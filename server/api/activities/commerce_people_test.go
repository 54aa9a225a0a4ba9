package activities_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/switchboard-dev/switchboard/gen/activitiesclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

func ptr[T any](v T) *T { return &v }

func newAPICommerce(t *testing.T, c *activitiesclient.ClientWithResponses, name, ext string) uuid.UUID {
	t.Helper()
	res, err := c.CreateCommerceWithResponse(ctx, nil, activitiesclient.CreateCommerceRequest{Name: name, ExternalId: &ext})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create commerce: %v %s", err, res.Body)
	}
	return res.JSON201.Id
}

func roles(u activitiesclient.CommerceUser) string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = string(r.Role)
	}
	return strings.Join(out, ",")
}

// TestCommerceUsersAndRoles runs the documented user and role calls, the documented create
// body verbatim, and their 404/409/400 edges.
func TestCommerceUsersAndRoles(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "MANAGE_COMMERCES")
	c := env.Activities(t, key)
	cid := newAPICommerce(t, c, "Almacen Don Pepe", "C-1")

	// The documentation's example, as written.
	status, body := env.Do(t, "POST", "/api/commerces/"+cid.String()+"/users", `{
    "name": "Maria Garcia",
    "external_id": "usr-001",
    "source": "RETEN",
    "roles": ["OWNER"]
  }`, "Authorization", "Bearer "+key, "x-tenant-id", ws.String())
	var maria activitiesclient.CommerceUser
	if err := json.Unmarshal(body, &maria); status != 201 || err != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	if maria.FirstName.MustGet() != "Maria" || maria.LastName.MustGet() != "Garcia" || maria.Name.MustGet() != "Maria Garcia" ||
		maria.ExternalId.MustGet() != "usr-001" || maria.Source != activitiesclient.RETEN || !maria.IsActive || roles(maria) != "OWNER" ||
		maria.CommerceId != cid || len(maria.Contacts) != 0 {
		t.Errorf("created user = %s", body)
	}

	dup, _ := c.CreateCommerceUserWithResponse(ctx, cid, nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("Other"), ExternalId: ptr("usr-001")})
	if dup.JSON409 == nil || !strings.Contains(dup.JSON409.Message, "usr-001") {
		t.Errorf("duplicate external_id: %d %s", dup.StatusCode(), dup.Body)
	}
	// The same external id in another commerce is another person.
	other := newAPICommerce(t, c, "Kiosko", "C-2")
	if res, _ := c.CreateCommerceUserWithResponse(ctx, other, nil, activitiesclient.CreateCommerceUserRequest{ExternalId: ptr("usr-001")}); res.JSON201 == nil ||
		!res.JSON201.FirstName.IsNull() || !res.JSON201.Name.IsNull() {
		t.Errorf("nameless user in another commerce: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := c.CreateCommerceUserWithResponse(ctx, uuid.New(), nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("X")}); res.JSON404 == nil || res.JSON404.Message != "Commerce not found" {
		t.Errorf("unknown commerce: %d %s", res.StatusCode(), res.Body)
	}
	if status, body := env.Do(t, "POST", "/api/commerces/"+cid.String()+"/users", `{"name":"X","roles":["BOSS"]}`, "x-api-key", key); status != 400 ||
		!strings.Contains(strings.Join(servertest.Decode[errorBody](t, body).Errors, ";"), "roles") {
		t.Errorf("unknown role: %d %s", status, body)
	}

	// Roles: add, add again (409), remove, remove again (404); returned in the enum's order.
	add, err := c.AddCommerceUserRoleWithResponse(ctx, cid, maria.Id, nil, activitiesclient.AddCommerceUserRoleRequest{Role: activitiesclient.CommerceUserRoleCOMMERCEREP})
	if err != nil || add.JSON201 == nil || roles(*add.JSON201) != "OWNER,COMMERCE_REP" {
		t.Fatalf("add role: %v %s", err, add.Body)
	}
	if again, _ := c.AddCommerceUserRoleWithResponse(ctx, cid, maria.Id, nil, activitiesclient.AddCommerceUserRoleRequest{Role: activitiesclient.CommerceUserRoleCOMMERCEREP}); again.JSON409 == nil {
		t.Errorf("role twice: %d %s", again.StatusCode(), again.Body)
	}
	if rm, _ := c.RemoveCommerceUserRoleWithResponse(ctx, cid, maria.Id, activitiesclient.CommerceUserRoleOWNER, nil); rm.StatusCode() != 204 {
		t.Errorf("remove role: %d %s", rm.StatusCode(), rm.Body)
	}
	if rm, _ := c.RemoveCommerceUserRoleWithResponse(ctx, cid, maria.Id, activitiesclient.CommerceUserRoleOWNER, nil); rm.JSON404 == nil || !strings.Contains(rm.JSON404.Message, "OWNER") {
		t.Errorf("remove a role the user lacks: %d %s", rm.StatusCode(), rm.Body)
	}
	if status, _ := env.Do(t, "DELETE", "/api/commerces/"+cid.String()+"/users/"+maria.Id.String()+"/roles/BOSS", "", "x-api-key", key); status != 400 {
		t.Errorf("remove unknown role: %d", status)
	}

	// Update: name splits again; last_name null clears it; external_id conflicts are 409.
	up, err := c.UpdateCommerceUserWithResponse(ctx, cid, maria.Id, nil, activitiesclient.UpdateCommerceUserRequest{Name: ptr("María José Garcia")})
	if err != nil || up.JSON200 == nil || up.JSON200.FirstName.MustGet() != "María" || up.JSON200.LastName.MustGet() != "José Garcia" || roles(*up.JSON200) != "COMMERCE_REP" {
		t.Fatalf("update name: %v %s", err, up.Body)
	}
	up, _ = c.UpdateCommerceUserWithResponse(ctx, cid, maria.Id, nil, activitiesclient.UpdateCommerceUserRequest{LastName: nullable.NewNullNullable[string](), IsActive: ptr(false)})
	if up.JSON200 == nil || !up.JSON200.LastName.IsNull() || up.JSON200.Name.MustGet() != "María" || up.JSON200.IsActive {
		t.Errorf("clear last name: %d %s", up.StatusCode(), up.Body)
	}
	pedro, _ := c.CreateCommerceUserWithResponse(ctx, cid, nil, activitiesclient.CreateCommerceUserRequest{FirstName: ptr("Pedro"), ExternalId: ptr("usr-002"),
		Source: ptr(activitiesclient.INTEGRATION), Roles: &[]activitiesclient.CommerceUserRole{activitiesclient.CommerceUserRoleOTHER, activitiesclient.CommerceUserRoleOWNER}})
	if pedro.JSON201 == nil || pedro.JSON201.Source != activitiesclient.INTEGRATION || roles(*pedro.JSON201) != "OWNER,OTHER" {
		t.Fatalf("second user: %d %s", pedro.StatusCode(), pedro.Body)
	}
	if res, _ := c.UpdateCommerceUserWithResponse(ctx, cid, pedro.JSON201.Id, nil, activitiesclient.UpdateCommerceUserRequest{ExternalId: nullableString("usr-001")}); res.JSON409 == nil {
		t.Errorf("update to a taken external_id: %d %s", res.StatusCode(), res.Body)
	}
	if status, _ := env.Do(t, "PATCH", "/api/commerces/"+cid.String()+"/users/"+pedro.JSON201.Id.String(), `{}`, "x-api-key", key); status != 400 {
		t.Errorf("empty update: %d", status)
	}

	// The commerce shows its users with roles; the list endpoint agrees.
	got, _ := c.GetCommerceWithResponse(ctx, cid, nil)
	if got.JSON200 == nil || len(got.JSON200.Users) != 2 || got.JSON200.Users[0].Id != maria.Id || roles(got.JSON200.Users[1]) != "OWNER,OTHER" {
		t.Fatalf("commerce with users: %s", got.Body)
	}
	list, _ := c.ListCommerceUsersWithResponse(ctx, cid, nil)
	if list.JSON200 == nil || len(*list.JSON200) != 2 {
		t.Fatalf("list users: %s", list.Body)
	}

	// Delete takes the user's roles along.
	if res, _ := c.DeleteCommerceUserWithResponse(ctx, cid, pedro.JSON201.Id, nil); res.StatusCode() != 204 {
		t.Fatalf("delete: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := c.GetCommerceUserWithResponse(ctx, cid, pedro.JSON201.Id, nil); res.JSON404 == nil || res.JSON404.Message != "Commerce user not found" {
		t.Errorf("deleted user: %d %s", res.StatusCode(), res.Body)
	}
	if n := env.Count(t, `commerce_user_roles WHERE user_id = $1`, pedro.JSON201.Id); n != 0 {
		t.Errorf("%d roles left after delete", n)
	}
}

// TestCommerceUserContacts checks contact values against their type, the one primary contact
// per type, and duplicates.
func TestCommerceUserContacts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, key := env.Workspace(t, "MANAGE_COMMERCES")
	c := env.Activities(t, key)
	cid := newAPICommerce(t, c, "Almacen", "C-1")
	u, _ := c.CreateCommerceUserWithResponse(ctx, cid, nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("Maria Garcia")})
	uid := u.JSON201.Id
	contact := func(typ activitiesclient.ContactType, value string, primary bool) *activitiesclient.CreateCommerceUserContactResponse {
		t.Helper()
		res, err := c.CreateCommerceUserContactWithResponse(ctx, cid, uid, nil, activitiesclient.CreateContactRequest{
			ContactType: typ, Value: value, Source: activitiesclient.RETEN, IsPrimary: &primary})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	bad := []struct {
		typ   activitiesclient.ContactType
		value string
	}{
		{activitiesclient.ContactTypeEMAIL, "maria.example.com"},
		{activitiesclient.ContactTypeEMAIL, "maria@localhost"},
		{activitiesclient.ContactTypeEMAIL, "maria garcia@example.com"},
		{activitiesclient.ContactTypePHONE, "56912345678"},     // no +
		{activitiesclient.ContactTypePHONE, "+56 9 1234 5678"}, // spaces
		{activitiesclient.ContactTypePHONE, "+0912345678"},     // country code cannot start with 0
		{activitiesclient.ContactTypePHONE, "+1234567890123456"},
		{activitiesclient.ContactTypeWHATSAPP, "+569-1234-5678"},
		{activitiesclient.ContactTypeOTHER, "   "},
	}
	for _, b := range bad {
		res := contact(b.typ, b.value, false)
		if res.JSON400 == nil || res.JSON400.Errors == nil || len(*res.JSON400.Errors) == 0 || !strings.HasPrefix((*res.JSON400.Errors)[0], "value: ") {
			t.Errorf("%s %q: %d %s", b.typ, b.value, res.StatusCode(), res.Body)
		}
	}
	if status, body := env.Do(t, "POST", "/api/commerces/"+cid.String()+"/users/"+uid.String()+"/contacts",
		`{"contact_type":"EMAIL","value":"a@b.co"}`, "x-api-key", key); status != 400 || !strings.Contains(string(body), "source") {
		t.Errorf("missing source: %d %s", status, body)
	}

	mail := contact(activitiesclient.ContactTypeEMAIL, "Maria@Example.com", false)
	if mail.JSON201 == nil || mail.JSON201.Value != "Maria@Example.com" || mail.JSON201.IsPrimary || !mail.JSON201.IsActive {
		t.Fatalf("email: %d %s", mail.StatusCode(), mail.Body)
	}
	if res := contact(activitiesclient.ContactTypeEMAIL, "maria@example.COM", false); res.JSON409 == nil {
		t.Errorf("same email in other case: %d %s", res.StatusCode(), res.Body)
	}
	phone1 := contact(activitiesclient.ContactTypePHONE, "+56912345678", true)
	if phone1.JSON201 == nil || !phone1.JSON201.IsPrimary {
		t.Fatalf("phone: %d %s", phone1.StatusCode(), phone1.Body)
	}
	// The same number on WhatsApp is another contact.
	if res := contact(activitiesclient.ContactTypeWHATSAPP, "+56912345678", true); res.JSON201 == nil {
		t.Errorf("whatsapp: %d %s", res.StatusCode(), res.Body)
	}
	phone2 := contact(activitiesclient.ContactTypePHONE, "+14155550100", true)
	if phone2.JSON201 == nil {
		t.Fatalf("second phone: %d %s", phone2.StatusCode(), phone2.Body)
	}
	user, _ := c.GetCommerceUserWithResponse(ctx, cid, uid, nil)
	primary := map[string]string{}
	for _, k := range user.JSON200.Contacts {
		if k.IsPrimary {
			if prev, ok := primary[string(k.Type)]; ok {
				t.Errorf("two primary %s contacts: %s and %s", k.Type, prev, k.Value)
			}
			primary[string(k.Type)] = k.Value
		}
	}
	if primary["PHONE"] != "+14155550100" || primary["WHATSAPP"] != "+56912345678" || len(user.JSON200.Contacts) != 4 {
		t.Errorf("contacts after a new primary phone: %s", user.Body)
	}

	// Update: the value is checked against the contact's type; making one primary demotes the other.
	if res, _ := c.UpdateCommerceUserContactWithResponse(ctx, cid, uid, phone1.JSON201.Id, nil, activitiesclient.UpdateContactRequest{Value: ptr("not a phone")}); res.JSON400 == nil {
		t.Errorf("bad value on update: %d %s", res.StatusCode(), res.Body)
	}
	upd, _ := c.UpdateCommerceUserContactWithResponse(ctx, cid, uid, phone1.JSON201.Id, nil, activitiesclient.UpdateContactRequest{IsPrimary: ptr(true), Value: ptr("+56987654321")})
	if upd.JSON200 == nil || !upd.JSON200.IsPrimary || upd.JSON200.Value != "+56987654321" {
		t.Fatalf("update contact: %d %s", upd.StatusCode(), upd.Body)
	}
	if primaries := env.Count(t, `commerce_user_contacts WHERE user_id = $1 AND type = 'PHONE' AND is_primary`, uid); primaries != 1 {
		t.Errorf("%d primary phones", primaries)
	}
	if res, _ := c.UpdateCommerceUserContactWithResponse(ctx, cid, uid, phone1.JSON201.Id, nil, activitiesclient.UpdateContactRequest{Value: ptr("+14155550100")}); res.JSON409 == nil {
		t.Errorf("update to an existing value: %d %s", res.StatusCode(), res.Body)
	}

	// The commerce shows the contacts inside its users.
	got, _ := c.GetCommerceWithResponse(ctx, cid, nil)
	if len(got.JSON200.Users) != 1 || len(got.JSON200.Users[0].Contacts) != 4 {
		t.Errorf("commerce: %s", got.Body)
	}

	if res, _ := c.DeleteCommerceUserContactWithResponse(ctx, cid, uid, mail.JSON201.Id, nil); res.StatusCode() != 204 {
		t.Errorf("delete contact: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := c.DeleteCommerceUserContactWithResponse(ctx, cid, uid, mail.JSON201.Id, nil); res.JSON404 == nil || res.JSON404.Message != "Contact not found" {
		t.Errorf("delete twice: %d %s", res.StatusCode(), res.Body)
	}
}

// TestCommerceUsersIsolation: another workspace's commerce, or a user reached through another
// commerce, is a 404 on every call; without MANAGE_COMMERCES, a 403.
func TestCommerceUsersIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "MANAGE_COMMERCES")
	c := env.Activities(t, key)
	cid := newAPICommerce(t, c, "Mine", "C-1")
	sibling := newAPICommerce(t, c, "Sibling", "C-2")
	u, _ := c.CreateCommerceUserWithResponse(ctx, cid, nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("Maria")})
	uid := u.JSON201.Id
	k, _ := c.CreateCommerceUserContactWithResponse(ctx, cid, uid, nil, activitiesclient.CreateContactRequest{ContactType: activitiesclient.ContactTypeEMAIL, Value: "m@example.com", Source: activitiesclient.RETEN})
	contactID := k.JSON201.Id

	_, strangerKey := env.Workspace(t, "MANAGE_COMMERCES")
	stranger := env.Activities(t, strangerKey)
	checks := map[string]int{}
	r1, _ := stranger.ListCommerceUsersWithResponse(ctx, cid, nil)
	checks["list"] = r1.StatusCode()
	r2, _ := stranger.GetCommerceUserWithResponse(ctx, cid, uid, nil)
	checks["get"] = r2.StatusCode()
	r3, _ := stranger.CreateCommerceUserWithResponse(ctx, cid, nil, activitiesclient.CreateCommerceUserRequest{Name: ptr("Intruder")})
	checks["create"] = r3.StatusCode()
	r4, _ := stranger.UpdateCommerceUserWithResponse(ctx, cid, uid, nil, activitiesclient.UpdateCommerceUserRequest{Name: ptr("Intruder")})
	checks["update"] = r4.StatusCode()
	r5, _ := stranger.AddCommerceUserRoleWithResponse(ctx, cid, uid, nil, activitiesclient.AddCommerceUserRoleRequest{Role: activitiesclient.CommerceUserRoleOWNER})
	checks["add role"] = r5.StatusCode()
	r6, _ := stranger.RemoveCommerceUserRoleWithResponse(ctx, cid, uid, activitiesclient.CommerceUserRoleOWNER, nil)
	checks["remove role"] = r6.StatusCode()
	r7, _ := stranger.CreateCommerceUserContactWithResponse(ctx, cid, uid, nil, activitiesclient.CreateContactRequest{ContactType: activitiesclient.ContactTypeOTHER, Value: "x", Source: activitiesclient.RETEN})
	checks["add contact"] = r7.StatusCode()
	r8, _ := stranger.UpdateCommerceUserContactWithResponse(ctx, cid, uid, contactID, nil, activitiesclient.UpdateContactRequest{IsActive: ptr(false)})
	checks["update contact"] = r8.StatusCode()
	r9, _ := stranger.DeleteCommerceUserContactWithResponse(ctx, cid, uid, contactID, nil)
	checks["delete contact"] = r9.StatusCode()
	r10, _ := stranger.DeleteCommerceUserWithResponse(ctx, cid, uid, nil)
	checks["delete"] = r10.StatusCode()
	r11, _ := stranger.GetCommerceWithResponse(ctx, cid, nil)
	checks["get commerce"] = r11.StatusCode()
	for call, status := range checks {
		if status != 404 {
			t.Errorf("another workspace, %s: %d, want 404", call, status)
		}
	}
	// A user of one commerce is not reachable through another of the same workspace.
	if res, _ := c.GetCommerceUserWithResponse(ctx, sibling, uid, nil); res.JSON404 == nil {
		t.Errorf("user through a sibling commerce: %d", res.StatusCode())
	}
	if res, _ := c.DeleteCommerceUserWithResponse(ctx, sibling, uid, nil); res.JSON404 == nil {
		t.Errorf("delete through a sibling commerce: %d", res.StatusCode())
	}
	got, _ := c.GetCommerceWithResponse(ctx, cid, nil)
	if len(got.JSON200.Users) != 1 || got.JSON200.Users[0].Name.MustGet() != "Maria" || len(got.JSON200.Users[0].Contacts) != 1 || !got.JSON200.Users[0].Contacts[0].IsActive {
		t.Errorf("the stranger changed something: %s", got.Body)
	}

	viewer := env.Key(t, ws, "VIEW_ACTIVITIES", "SYNC_COMMERCES")
	for _, call := range [][2]string{
		{"GET", "/api/commerces/" + cid.String() + "/users"},
		{"POST", "/api/commerces/" + cid.String() + "/users"},
		{"POST", "/api/commerces/" + cid.String() + "/users/" + uid.String() + "/roles"},
		{"POST", "/api/commerces/" + cid.String() + "/users/" + uid.String() + "/contacts"},
		{"DELETE", "/api/commerces/" + cid.String() + "/users/" + uid.String()},
	} {
		if status, body := env.Do(t, call[0], call[1], `{"name":"x","role":"OWNER"}`, "x-api-key", viewer); status != 403 {
			t.Errorf("%s %s without MANAGE_COMMERCES: %d %s", call[0], call[1], status, body)
		}
	}
}
