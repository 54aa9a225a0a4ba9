package activities_test

import "github.com/oapi-codegen/nullable"

func nullableString(s string) nullable.Nullable[string] { return nullable.NewNullableWithValue(s) }
