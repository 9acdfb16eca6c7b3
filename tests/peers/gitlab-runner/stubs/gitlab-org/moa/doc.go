package moa
