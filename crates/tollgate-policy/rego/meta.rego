# The built-in gate library's own description. Evaluated once when a bundle is compiled.
package tollgate.builtin.meta

version := "1"
