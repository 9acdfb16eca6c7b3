package value
