package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ErrNoEmployee is find_employee's answer for a name no employee has.
var ErrNoEmployee = errors.New("no employee matches")

// Tool names of the HR server.
const (
	ToolFindEmployee    = "find_employee"
	ToolListDepartments = "list_departments"
)

// Employee is one record of the HR directory.
type Employee struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Department string `json:"department"`
}

// directory is the fixed HR directory.
var directory = []Employee{
	{ID: "e-1001", Name: "Ada Lovelace", Department: "engineering"},
	{ID: "e-1002", Name: "Grace Hopper", Department: "engineering"},
	{ID: "e-2001", Name: "Frances Allen", Department: "finance"},
	{ID: "e-3001", Name: "Katherine Johnson", Department: "operations"},
}

// FindIn is find_employee's input.
type FindIn struct {
	Name string `json:"name" jsonschema:"a case-insensitive part of the employee's name"`
}

// FindOut is find_employee's result.
type FindOut struct {
	Employees []Employee `json:"employees"`
}

// DepartmentsOut is list_departments' result.
type DepartmentsOut struct {
	Departments []string `json:"departments"`
}

// HR returns the HR MCP server.
func HR() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "sample-hr", Title: "Sample HR directory", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: ToolFindEmployee, Description: "Find employees by name",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, findEmployee)
	mcp.AddTool(s, &mcp.Tool{Name: ToolListDepartments, Description: "List the departments",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, listDepartments)
	return s
}

func findEmployee(_ context.Context, _ *mcp.CallToolRequest, in FindIn) (*mcp.CallToolResult, FindOut, error) {
	q := strings.ToLower(strings.TrimSpace(in.Name))
	var out FindOut
	for _, e := range directory {
		if q != "" && strings.Contains(strings.ToLower(e.Name), q) {
			out.Employees = append(out.Employees, e)
		}
	}
	if len(out.Employees) == 0 {
		return nil, FindOut{}, fmt.Errorf("find %q: %w", in.Name, ErrNoEmployee)
	}
	return nil, out, nil
}

func listDepartments(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, DepartmentsOut, error) {
	var out DepartmentsOut
	for _, e := range directory {
		if !slices.Contains(out.Departments, e.Department) {
			out.Departments = append(out.Departments, e.Department)
		}
	}
	slices.Sort(out.Departments)
	return nil, out, nil
}
