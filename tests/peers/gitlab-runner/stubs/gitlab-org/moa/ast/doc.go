package ast
