En el jardín, Tom tiene 8 sillas rojas.
El domingo, Simon es llamado por Vera.
En el coche, Simon tiene 5 sillas blancas.
Rosa compró las pelotas el sábado.
No hay libros en la cocina.
Vera es saludada por Simon el sábado.
Rosa tiene 7 tazas verdes en el salón.
Julia es pagada por Simon el miércoles.
Tom no tiene manzanas en el coche.
Tom tiene 4 tazas negras en el sótano.
Las tazas en el jardín son amarillas.
Cada mañana, Simon es despertado por Julia.
Simon le da la llave a Sara el martes.
En el sótano, Tom tiene 7 sombreros verdes.
Peter tiene 6 bolígrafos verdes en la oficina.
El domingo, Peter llama a Leo.
A Tom le gustan mucho las cajas.
Por la noche, Leo es despertado por Julia.
Marco paga a Olga el sábado.
Sara compró las cajas el lunes.
En el salón, Nora tiene 5 sombreros verdes.
Vera llama a Simon el domingo.
En la oficina, Leo tiene 9 pelotas azules.
Leo es saludado por Vera cada mañana.
En el sótano, Nora tiene 5 bolígrafos blancos.
Peter tiene 4 bolígrafos verdes en el jardín.
Vera ve a Simon cada mañana.
Tom tiene algunas tazas negras.
Rosa tiene al menos 7 tazas.
El jueves, Marco le da la llave a Nora.
En la cocina, Rosa tiene 8 libros rojos.
Marco tiene 4 tazas amarillas en el coche.
Por la noche, Leo llama a Simon.
Leo tiene 8 pelotas rojas en la oficina.
Hay sombreros en la oficina.
El miércoles, Paul le da la carta a Nora.
En el coche, Vera tiene 6 pelotas blancas.
Paul le da a Marco la pelota por la noche.
Simon le da a Julia la pelota el miércoles.
Marco tiene 8 manzanas azules en el coche.
